import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SimState } from './model';

/** How long a save waits for more mutations before the state is written. */
export const SAVE_WINDOW_MS = 100;

/**
 * Keeps the state in one JSON file. Saves are coalesced (every mutation within `windowMs` of the
 * first → one write of the whole state, and none while a write is in flight) and atomic (temp
 * file + rename), so a crash leaves either the old or the new state, never half. A graceful stop
 * (`flush`, which `close` awaits) writes what is pending at once; only a hard kill can lose the
 * last `windowMs` of changes. Without the window a busy simulator (1,000 guests being cloned and
 * started) serialised its whole state hundreds of times, and those writes took most of its time.
 */
export class StateStore {
  private pending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** How many times the state reached the disk (for tests and benches). */
  writes = 0;

  constructor(
    private readonly file: string,
    public state: SimState,
    private readonly windowMs = SAVE_WINDOW_MS,
  ) {}

  static async load(file: string): Promise<SimState | undefined> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as SimState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read simulator state ${file}: ${(error as Error).message}`);
    }
  }

  /** Schedules a write of the current state within the save window. */
  save(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.timer = setTimeout(() => this.writeScheduled(), this.windowMs);
    this.timer.unref();
  }

  /** Resolves once every scheduled write has reached the disk (a pending one is written now). */
  async flush(): Promise<void> {
    if (this.timer !== undefined) this.writeScheduled();
    await this.pending;
  }

  private writeScheduled(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // The state is serialised when the write starts, so mutations made while one is in flight
    // schedule the next.
    this.pending = this.pending.then(async () => {
      this.scheduled = false;
      await this.write();
    });
  }

  private async write(): Promise<void> {
    const temp = `${this.file}.${process.pid}.tmp`;
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(temp, JSON.stringify(this.state));
    await rename(temp, this.file);
    this.writes++;
  }
}
