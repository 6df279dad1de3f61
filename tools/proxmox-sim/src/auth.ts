import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { authError, PveError } from './http/errors';
import type { SimState, TokenRecord, UserRecord } from './state/model';

/** Tickets live two hours, as in PVE. */
export const TICKET_LIFETIME_SECONDS = 2 * 3600;

/** Who is calling, and how: cookie (ticket) callers must send a CSRF token on writes. */
export interface Identity {
  userid: string;
  /** `user@realm!name` for API tokens. */
  tokenid?: string;
  readonly: boolean;
}

/** What PVE writes into UPIDs and task lists: the token id when a token called. */
export function taskUser(identity: Identity): string {
  return identity.tokenid ?? identity.userid;
}

const hex8 = (seconds: number) => seconds.toString(16).toUpperCase().padStart(8, '0');

function sign(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64');
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Tickets and tokens, checked the way pveproxy checks them. Tickets have PVE's shape
 * (`PVE:user@realm:<8 hex>::<signature>`); the signature is an HMAC under the state's secret
 * rather than PVE's RSA key, which no client verifies.
 */
export class Auth {
  constructor(
    private readonly state: () => SimState,
    private readonly now: () => number = () => Date.now(),
  ) {}

  issueTicket(userid: string): { ticket: string; CSRFPreventionToken: string } {
    const time = hex8(Math.floor(this.now() / 1000));
    const plain = `PVE:${userid}:${time}`;
    const ticket = `${plain}::${sign(this.state().secret, plain)}`;
    const csrf = `${time}:${sign(this.state().secret, `${time}:${userid}`).replace(/=+$/, '')}`;
    return { ticket, CSRFPreventionToken: csrf };
  }

  /** The user a ticket belongs to, or undefined when it is forged, expired or its user is gone. */
  verifyTicket(ticket: string): UserRecord | undefined {
    const match = /^PVE:([^:\s]+@[^:\s]+):([0-9A-F]{8})::(.+)$/.exec(ticket);
    if (!match) return undefined;
    const [, userid, time, signature] = match as unknown as [string, string, string, string];
    if (!safeEqual(signature, sign(this.state().secret, `PVE:${userid}:${time}`))) return undefined;
    const age = Math.floor(this.now() / 1000) - parseInt(time, 16);
    if (age < -300 || age > TICKET_LIFETIME_SECONDS) return undefined;
    return this.state().users.find((user) => user.userid === userid);
  }

  private verifyCsrf(token: string | undefined, userid: string): boolean {
    if (!token) return false;
    const [time, digest] = token.split(':');
    if (!time || !digest || !/^[0-9A-F]{8}$/.test(time)) return false;
    const age = Math.floor(this.now() / 1000) - parseInt(time, 16);
    if (age < -300 || age > TICKET_LIFETIME_SECONDS) return false;
    return safeEqual(digest, sign(this.state().secret, `${time}:${userid}`).replace(/=+$/, ''));
  }

  /** `POST /access/ticket`: a password, or a still-valid ticket to renew. */
  login(username: string, password: string): UserRecord | undefined {
    if (password.startsWith('PVE:')) {
      const user = this.verifyTicket(password);
      return user?.userid === username ? user : undefined;
    }
    const user = this.state().users.find((candidate) => candidate.userid === username);
    return user && safeEqual(user.password, password) ? user : undefined;
  }

  /**
   * Authenticates a request from its headers. Throws the 401 pveproxy would send; `write` tells
   * whether the method needs a CSRF token when the caller uses a ticket.
   */
  authenticate(headers: IncomingHttpHeaders, write: boolean): Identity {
    const authorization = headers.authorization;
    if (authorization?.startsWith('PVEAPIToken')) return this.authenticateToken(authorization);
    const ticket = readCookie(headers.cookie, 'PVEAuthCookie');
    if (!ticket) throw authError('No ticket');
    const user = this.verifyTicket(ticket);
    if (!user) throw authError('permission denied - invalid PVE ticket');
    const csrf = headers.csrfpreventiontoken;
    if (write && !this.verifyCsrf(Array.isArray(csrf) ? csrf[0] : csrf, user.userid)) {
      throw authError('Permission denied - invalid csrf token');
    }
    return { userid: user.userid, readonly: user.readonly ?? false };
  }

  private authenticateToken(header: string): Identity {
    const match = /^PVEAPIToken[= ]([^\s!=]+@[^\s!=]+)!([^\s=]+)=(\S+)$/.exec(header.trim());
    if (!match) throw authError('invalid token value!');
    const [, userid, name, secret] = match as unknown as [string, string, string, string];
    const tokenid = `${userid}!${name}`;
    const token: TokenRecord | undefined = this.state().tokens.find((candidate) => candidate.tokenid === tokenid);
    if (!token || !safeEqual(token.secret, secret)) throw authError('invalid token value!');
    const user = this.state().users.find((candidate) => candidate.userid === userid);
    if (!user) throw authError(`user '${userid}' does not exist`);
    return { userid, tokenid, readonly: (token.readonly ?? false) || (user.readonly ?? false) };
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/** A refused login: 401 with `{"data":null}`, unlike other 401s. */
export function loginFailure(): PveError {
  return new PveError(401, 'authentication failure', undefined, true);
}
