import { describe, expect, it } from 'vitest';
import { createSseParser, type SseMessage } from './sse';

/** Feeds `pieces` one after another and collects every dispatched frame. */
function parseAll(pieces: string[], lastEventId?: string): { messages: SseMessage[]; lastEventId: string } {
  const parser = createSseParser({ lastEventId });
  const messages = pieces.flatMap((p) => parser.feed(p));
  return { messages, lastEventId: parser.lastEventId };
}

const STREAM = 'event: history\nid: 4-0\ndata: {"events":[]}\n\n: keepalive\n\nevent: log\nid: 4-7\ndata: {"data":"hi"}\n\n';

describe('createSseParser', () => {
  it('parses events with their type, data and id', () => {
    expect(parseAll([STREAM]).messages).toEqual([
      { event: 'history', data: '{"events":[]}', id: '4-0' },
      { event: 'log', data: '{"data":"hi"}', id: '4-7' },
    ]);
  });

  it('gives the same frames however the text is split, down to one character per piece', () => {
    const whole = parseAll([STREAM]).messages;
    for (const size of [1, 2, 3, 5, 7, 13]) {
      const pieces: string[] = [];
      for (let i = 0; i < STREAM.length; i += size) pieces.push(STREAM.slice(i, i + size));
      expect(parseAll(pieces).messages, `pieces of ${size}`).toEqual(whole);
    }
  });

  it('joins multi-line data with newlines and keeps blank data lines', () => {
    expect(parseAll(['data: one\ndata:two\ndata\ndata:  three\n\n']).messages).toEqual([{ event: 'message', data: 'one\ntwo\n\n three', id: '' }]);
  });

  it('accepts CRLF and CR line ends, including a CRLF split between two pieces', () => {
    const { messages } = parseAll(['event: a\r', '\ndata: 1\r\n\r', '\nevent: b\rdata: 2\r\r']);
    expect(messages).toEqual([
      { event: 'a', data: '1', id: '' },
      { event: 'b', data: '2', id: '' },
    ]);
  });

  it('ignores comments and keepalives, and frames without data', () => {
    expect(parseAll([': keepalive\n\n:\n\nevent: steps\n\n', 'data: x\n\n']).messages).toEqual([{ event: 'message', data: 'x', id: '' }]);
  });

  it('keeps the last id across frames until a new one arrives, and an id-only frame moves it', () => {
    const { messages, lastEventId } = parseAll(['id: 1-0\ndata: a\n\ndata: b\n\nid: 2-0\n\n']);
    expect(messages.map((m) => m.id)).toEqual(['1-0', '1-0']);
    expect(lastEventId).toBe('2-0');
  });

  it('does not move the last id for a frame that never completed', () => {
    const parser = createSseParser({ lastEventId: '3-0' });
    expect(parser.feed('id: 3-1\ndata: {"a":1}\n\nid: 4-0\nevent: history\ndata: {"cut')).toHaveLength(1);
    expect(parser.lastEventId).toBe('3-1');
  });

  it('starts from the id it is given and ignores ids containing NUL', () => {
    const { messages } = parseAll(['id: bad\0id\ndata: x\n\n'], '9-9');
    expect(messages).toEqual([{ event: 'message', data: 'x', id: '9-9' }]);
  });

  it('reads retry as a number and ignores anything else there', () => {
    const parser = createSseParser();
    parser.feed('retry: 2500\n\nretry: soon\n\n');
    expect(parser.retryMs).toBe(2500);
  });

  it('strips one leading space from values, and a byte order mark at the start', () => {
    expect(parseAll(['\uFEFFdata:  two spaces\nevent:log\n\n']).messages).toEqual([{ event: 'log', data: ' two spaces', id: '' }]);
  });

  it('treats a field with no colon as a field with an empty value, and ignores unknown fields', () => {
    expect(parseAll(['foo: bar\ndata\n\n']).messages).toEqual([{ event: 'message', data: '', id: '' }]);
  });
});
