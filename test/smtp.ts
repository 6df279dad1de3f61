import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { expect } from 'vitest';

/** One message as the receiver got it: the SMTP envelope and the parsed email. */
export interface ReceivedEmail {
  envelope: { from: string | null; to: string[] };
  /** The user the client logged in as, if it did. */
  user: string | null;
  messageId: string | null;
  subject: string;
  from: string;
  to: string[];
  text: string;
  html: string | null;
  headers: ParsedMail['headers'];
  attachments: Array<{ filename: string | null; contentType: string; content: Buffer }>;
  receivedAt: Date;
}

export interface SmtpReceiver {
  host: string;
  port: number;
  /** Every message accepted so far, in order of arrival (duplicates included). */
  messages: ReceivedEmail[];
  /** Waits until `predicate` holds for the messages received, then returns them. */
  waitFor(predicate: (messages: ReceivedEmail[]) => boolean, timeoutMs?: number): Promise<ReceivedEmail[]>;
  /** Waits for the first message matching `match`. */
  waitForMessage(match: (m: ReceivedEmail) => boolean, timeoutMs?: number): Promise<ReceivedEmail>;
  close(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Require this login (AUTH PLAIN/LOGIN over plain SMTP, which the receiver allows). */
  auth?: { username: string; password: string };
  /** Recipients refused with a permanent 550, as a real server refuses an unknown mailbox. */
  rejectRecipients?: (address: string) => boolean;
}

/**
 * A real SMTP server for tests (smtp-server), on a free port of 127.0.0.1: it speaks the protocol
 * nodemailer speaks to any server, parses each message with mailparser, and keeps them for the
 * test to assert on (recipients, subject, headers, attachments' bytes). Plain SMTP, no STARTTLS.
 */
export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const messages: ReceivedEmail[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS', ...(options.auth ? [] : ['AUTH'])],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    logger: false,
    size: 25 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.username && auth.password === options.auth.password) return callback(null, { user: auth.username });
      const err = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
      return callback(err);
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (options.rejectRecipients?.(address.address)) {
        return callback(Object.assign(new Error(`mailbox ${address.address} does not exist`), { responseCode: 550 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const addresses = (v: ParsedMail['to']) => (v ? (Array.isArray(v) ? v : [v]).flatMap((a) => a.value.map((x) => x.address ?? '')) : []);
          messages.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            user: (session.user as string | undefined) ?? null,
            messageId: parsed.messageId ?? null,
            subject: parsed.subject ?? '',
            from: parsed.from?.text ?? '',
            to: addresses(parsed.to),
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : null,
            headers: parsed.headers,
            attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, contentType: a.contentType, content: a.content })),
            receivedAt: new Date(),
          });
          notify();
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // Client sockets that break mid-message (a worker killed while sending) are the tests' business.
  server.on('error', () => {});
  const { port } = server.server.address() as { port: number };

  async function waitFor(predicate: (m: ReceivedEmail[]) => boolean, timeoutMs = 30_000) {
    if (predicate(messages)) return messages;
    return new Promise<ReceivedEmail[]>((resolve, reject) => {
      const check = () => {
        if (!predicate(messages)) return;
        done();
        resolve(messages);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`SMTP receiver: condition not met within ${timeoutMs} ms (${messages.length} messages received)`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
    });
  }

  return {
    host: '127.0.0.1',
    port,
    messages,
    waitFor,
    async waitForMessage(match, timeoutMs) {
      const all = await waitFor((m) => m.some(match), timeoutMs);
      return all.find(match)!;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * What a test that SIGKILLs workers can hold the sender to. SMTP cannot be made idempotent by the
 * sender: a worker killed after the server accepted a message and before the send was recorded
 * sends it again once its claim runs out — the same message under the same Message-ID, which
 * mail systems collapse into one. So: every recorded email arrived, nothing else arrived, every
 * copy of a Message-ID is the same message, and there are at most `kills` extra copies in all.
 * Returns the messages, one per Message-ID.
 */
export function expectOncePerMessageId(received: ReceivedEmail[], recorded: Array<{ messageId: string; key: string; subject: string }>, kills: number): ReceivedEmail[] {
  const byMessageId = new Map<string | null, ReceivedEmail[]>();
  for (const m of received) byMessageId.set(m.messageId, [...(byMessageId.get(m.messageId) ?? []), m]);
  for (const row of recorded) expect(byMessageId.get(row.messageId)?.length ?? 0, `${row.key} (${row.subject}) arrived`).toBeGreaterThanOrEqual(1);
  expect([...byMessageId.keys()].sort(), 'only recorded emails arrived').toEqual(recorded.map((r) => r.messageId).sort());
  for (const [messageId, copies] of byMessageId) {
    expect(new Set(copies.map((m) => `${m.subject}\n${m.to.join(',')}\n${m.text}\n${m.attachments.map((a) => a.content.toString('base64')).join(',')}`)).size, `copies of ${messageId} are one message`).toBe(1);
  }
  expect(received.length - byMessageId.size, 'extra copies (at most one per kill)').toBeLessThanOrEqual(kills);
  return [...byMessageId.values()].map((copies) => copies[0]!);
}
