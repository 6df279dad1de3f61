/**
 * The API's connection to Temporal: the SDK's native connection (the gRPC client of its Rust
 * core, the one workers use) rather than `@temporalio/client`'s JavaScript one. Both power the
 * same `Client`; with the native one HTTP/2 and its framing run on the core's threads, and a start
 * costs the API's event loop about a third of the CPU (decision 0040).
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';

/**
 * Installs the SDK's runtime for an API process: its core's warnings and errors go to `log` as
 * the API's other lines do, and it leaves SIGINT and SIGTERM to the API's own shutdown (the
 * runtime listens for them to stop workers, which an API process has none of). Call it once,
 * before {@link connectTemporal}; a process that does not gets the SDK's defaults.
 */
export function installTemporalRuntime(log: (fields: Record<string, unknown>) => void): void {
  Runtime.install({
    logger: new DefaultLogger('WARN', ({ level: l, message, meta }) => log({ level: l.toLowerCase(), msg: `temporal: ${message}`, ...meta })),
    shutdownSignals: [],
  });
}

/** A connection for the API's `Client`; fails if Temporal does not answer at `address`. */
export function connectTemporal(address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}
