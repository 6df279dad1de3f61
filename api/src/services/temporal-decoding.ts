import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { type RunStatus } from '@keelson/common/constants';
import proto from '@temporalio/proto';

// @temporalio/proto is CommonJS without static named exports: Node's ESM loader only sees its
// default export, so the namespace is taken from there.
export const { temporal } = proto;

/** Decodes payloads (codec, then JSON) into plain values; unreadable ones become a marker. */
export type DecodePayloads = (payloads: Payload[]) => Promise<unknown[]>;

export function payloadDecoder(codec: PayloadCodec): DecodePayloads {
  return async (payloads) =>
    Promise.all(
      payloads.map(async (payload) => {
        try {
          const [p] = await codec.decode([payload]);
          return defaultPayloadConverter.fromPayload(p!);
        } catch {
          return { unreadable: true };
        }
      }),
    );
}

type Failure = import('@temporalio/proto').temporal.api.failure.v1.IFailure;

/**
 * Restores, in place, the message and stack trace of every failure inside `value` (history events,
 * pending activities) whose common attributes were encoded (Keelson's failure converter puts them
 * in a payload that the codec seals). A failure that cannot be opened keeps Temporal's
 * "Encoded failure" text rather than breaking the view.
 */
export async function decodeFailures(codec: PayloadCodec, value: unknown): Promise<void> {
  const seen = new Set<object>();
  const failures: Failure[] = [];
  const walk = (node: unknown, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 40 || seen.has(node) || ArrayBuffer.isView(node)) return;
    seen.add(node);
    if ((node as Failure).encodedAttributes) failures.push(node as Failure);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child, depth + 1);
  };
  walk(value, 0);
  await Promise.all(
    failures.map(async (f) => {
      try {
        const [payload] = await codec.decode([f.encodedAttributes!]);
        const attrs = defaultPayloadConverter.fromPayload<{ message?: string; stack_trace?: string }>(payload!);
        if (typeof attrs?.message === 'string') f.message = attrs.message;
        if (typeof attrs?.stack_trace === 'string') f.stackTrace = attrs.stack_trace;
        f.encodedAttributes = null;
      } catch {
        // unreadable: leave Temporal's placeholder
      }
    }),
  );
}

const EventType = temporal.api.enums.v1.EventType;
/** `EVENT_TYPE_ACTIVITY_TASK_SCHEDULED` → `ActivityTaskScheduled`, indexed by enum value. */
export const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EventType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [
      v,
      k
        .replace(/^EVENT_TYPE_/, '')
        .toLowerCase()
        .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()),
    ]),
);

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
export function statusName(status: number | null | undefined): RunStatus {
  switch (status) {
    case Status.WORKFLOW_EXECUTION_STATUS_RUNNING:
      return 'Running';
    case Status.WORKFLOW_EXECUTION_STATUS_COMPLETED:
      return 'Completed';
    case Status.WORKFLOW_EXECUTION_STATUS_FAILED:
      return 'Failed';
    case Status.WORKFLOW_EXECUTION_STATUS_CANCELED:
      return 'Canceled';
    case Status.WORKFLOW_EXECUTION_STATUS_TERMINATED:
      return 'Terminated';
    case Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
      return 'ContinuedAsNew';
    case Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
      return 'TimedOut';
    default:
      return 'Unknown';
  }
}

/** Protobuf timestamps arrive as {seconds: Long, nanos}; Dates pass through. */
export function toDate(t: unknown): Date | null {
  if (!t) return null;
  if (t instanceof Date) return t;
  const ts = t as { seconds?: { toNumber(): number } | number | null; nanos?: number | null };
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}
