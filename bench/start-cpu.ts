/**
 * `npm run bench:start-cpu`: the API process's own CPU per start, Keelson's API against the bare
 * HTTP server making the same start (bench/bare-server.ts), measured exactly with
 * `process.cpuUsage` rather than from /proc's 10 ms ticks. The platform is `npm run bench`'s
 * (worker and client in processes of their own); the sides take turns, `--rounds` times, and
 * `--cpu-prof DIR` writes a V8 CPU profile of the API's process for each side's last batch.
 * The last round's CPU is also split by thread (event loop, Temporal core, the rest: GC).
 * See bench/README.md, "CPU per start, by process, in every run".
 */
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { threadCpu } from './cpu';
import { spawnWorkerProcess, startBenchPlatform, type BenchPlatform, type WorkerProcess } from './platform';
import { startStartClient, type StartClient } from './starts';

const USAGE = `usage: npm run bench:start-cpu -- [options]
  --n N             starts per side and round              default 1000
  --concurrency C   starts in flight                        default 8
  --rounds R        rounds; the side going first alternates default 3
  --cpu-prof DIR    write a profile of each side's last batch (100 µs sampling) to DIR`;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'n' | 'concurrency' | 'rounds') => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench:start-cpu: --${name} must be an integer ≥ 1\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const n = int('n');
const concurrency = int('concurrency');
const rounds = int('rounds');
const profileDir = values['cpu-prof'];

Runtime.install({ logger: new DefaultLogger('WARN') });
const SIDES = ['keelson', 'bareHttp'] as const;
let platform: BenchPlatform | undefined;
let worker: WorkerProcess | undefined;
let client: StartClient | undefined;
const session = new Session();
try {
  platform = await startBenchPlatform({ coreWorker: false });
  worker = spawnWorkerProcess(platform);
  await worker.ready;
  client = await startStartClient(platform);
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const measured = { keelson: [] as string[], bareHttp: [] as string[] };
  const byThread = { keelson: [] as string[], bareHttp: [] as string[] };
  for (const side of SIDES) await client.batch(side, Math.min(n, 100), concurrency); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 ? [...SIDES].reverse() : SIDES) {
      const profiling = profileDir !== undefined && r === rounds - 1;
      if (profiling) await session.post('Profiler.start');
      const before = process.cpuUsage();
      const threadsBefore = threadCpu();
      const batch = await client.batch(side, n, concurrency);
      const cpu = process.cpuUsage(before);
      const threadsAfter = threadCpu();
      byThread[side] = Object.entries(threadsAfter).map(([kind, ms]) => `${kind} ${(((ms - (threadsBefore[kind] ?? 0)) * 1000) / n).toFixed(0)}`);
      if (profiling) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(profileDir, `start-${side}.cpuprofile`), JSON.stringify(profile));
      }
      measured[side].push(`${((cpu.user + cpu.system) / n).toFixed(0).padStart(5)} µs/start ${(n / (batch.ms / 1000)).toFixed(0).padStart(4)} starts/s`);
    }
  }
  console.log(`API process CPU per start, ${n} starts per side and round, concurrency ${concurrency}${profileDir ? ` (the last round profiled, into ${profileDir})` : ''}`);
  for (const side of SIDES) console.log(`  ${side === 'keelson' ? 'Keelson API' : 'bare HTTP  '}  ${measured[side].join('   ')}`);
  console.log('By thread, last round (µs/start, from /proc ticks of 10 ms)');
  for (const side of SIDES) console.log(`  ${side === 'keelson' ? 'Keelson API' : 'bare HTTP  '}  ${byThread[side].join(', ')}`);
} catch (err) {
  console.error(`bench:start-cpu: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  session.disconnect();
  await client?.close().catch(() => undefined);
  await worker?.stop();
  await platform?.close();
}
process.exit(process.exitCode ?? 0);
