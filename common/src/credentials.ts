/**
 * Credentials written into URLs (`https://user:TOKEN@host/x.git`, the usual form for a private
 * repository): split out to be sealed, masked when shown, and scrubbed from any text (git's own
 * error messages echo URLs). Pure: no I/O, safe anywhere.
 */

export interface UrlCredentials {
  username: string;
  password: string;
}

/** What a masked URL shows in place of its user info. */
export const CREDENTIALS_MASK = '****';

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i;

/** The URL without user info, and the credentials it carried (percent-decoded), if any. */
export function splitUrlCredentials(url: string): { url: string; credentials: UrlCredentials | null } {
  const match = USERINFO.exec(url);
  if (!match) return { url, credentials: null };
  const [whole, scheme, userinfo] = match as unknown as [string, string, string];
  const clean = `${scheme}${url.slice(whole.length)}`;
  const colon = userinfo.indexOf(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
  return { url: clean, credentials: username || password ? { username, password } : null };
}

/** Whether the URL's user info is the mask (a client sending back what it was shown). */
export function isMaskedUrl(url: string): boolean {
  return USERINFO.exec(url)?.[2] === CREDENTIALS_MASK;
}

/** The URL as shown to people: `https://****@host/x.git` when credentials are stored for it. */
export function maskUrl(url: string, hasCredentials: boolean): string {
  const { url: clean, credentials } = splitUrlCredentials(url);
  if (!credentials && !hasCredentials) return clean;
  return clean.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${CREDENTIALS_MASK}@`);
}

/**
 * The text with every given secret (and its URL-encoded and Basic-auth forms) replaced by the
 * mask, and any `scheme://user:pass@` user info masked, whoever wrote it.
 */
export function scrubCredentials(text: string, credentials: UrlCredentials | null = null): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s?#@'"]*@/gi, `$1${CREDENTIALS_MASK}@`);
  if (credentials) {
    const forms = new Set<string>();
    for (const secret of [credentials.password, credentials.username]) {
      if (secret.length < 3) continue; // masking `a` everywhere would mangle the text, not protect it
      forms.add(secret);
      forms.add(encodeURIComponent(secret));
    }
    forms.add(Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'));
    for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(CREDENTIALS_MASK);
  }
  return out;
}
