// The app renders in the browser only: every view needs the signed-in user's data from the API,
// and client-side state (the session, the CSRF token) is then never shared between users.
export const ssr = false;
export const prerender = false;
