// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {
    interface Error {
      message: string;
      /** The API's request id, to quote when reporting a problem. */
      requestId?: string | null;
      code?: string;
    }
  }
}

export {};
