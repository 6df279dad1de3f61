import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SimState } from './model';

/**
 * Keeps the state in one JSON file. Saves are coalesced (many mutations in one tick → one write)
 * and atomic (temp file + rename), so a crash leaves either the old or the new state, never half.
 */
export class StateStore {
  private pending: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly file: string,
    public state: SimState,
  ) {}

  static async load(file: string): Promise<SimState | undefined> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as SimState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read simulator state ${file}: ${(error as Error).message}`);
    }
  }

  /** Schedules a write of the current state. */
  save(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.pending = this.pending.then(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      this.scheduled = false;
      await this.write();
    });
  }

  /** Resolves once every scheduled write has reached the disk. */
  async flush(): Promise<void> {
    await this.pending;
  }

  private async write(): Promise<void> {
    const temp = `${this.file}.${process.pid}.tmp`;
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(temp, JSON.stringify(this.state));
    await rename(temp, this.file);
  }
}
