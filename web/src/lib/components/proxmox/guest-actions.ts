/**
 * The guest page's small forms read into request bodies: resize sends only what changed,
 * backups and their schedule read `keep` and the cron line.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { Guest, GuestBackupMode } from '../../api/types';
import { readWholeNumber } from './issues';

export interface ResizeDraft {
  cores: string;
  memoryMiB: string;
  /** Empty: leave the disk as it is. */
  diskGiB: string;
}

/**
 * Only the sizes that differ from the guest's (the run then touches nothing else). `errors.form`
 * says when nothing changed; a smaller disk is refused here as the API would.
 */
export function readResize(d: ResizeDraft, g: Pick<Guest, 'cores' | 'memoryMiB' | 'diskGiB'>) {
  const errors: Record<string, string> = {};
  const changes: { cores?: number; memoryMiB?: number; diskGiB?: number } = {};
  const cores = readWholeNumber(errors, 'cores', d.cores, true);
  const memoryMiB = readWholeNumber(errors, 'memoryMiB', d.memoryMiB, true);
  const diskGiB = readWholeNumber(errors, 'diskGiB', d.diskGiB, false);
  if (cores !== undefined && cores !== g.cores) changes.cores = cores;
  if (memoryMiB !== undefined && memoryMiB !== g.memoryMiB) changes.memoryMiB = memoryMiB;
  if (diskGiB !== undefined && diskGiB !== g.diskGiB) {
    if (g.diskGiB !== null && diskGiB < g.diskGiB) errors.diskGiB = `disks only grow: it has ${g.diskGiB} GiB`;
    changes.diskGiB = diskGiB;
  }
  if (!Object.keys(errors).length && !Object.keys(changes).length) errors.form = 'nothing to change: these are the current sizes';
  return { changes, errors };
}

export interface BackupDraft {
  keep: string;
  mode: GuestBackupMode | '';
  storage: string;
}

export interface ScheduleDraft extends BackupDraft {
  cron: string;
}

/** `keep` and the optional settings, blanks left out so the API's defaults apply. */
export function readBackup(d: BackupDraft) {
  const errors: Record<string, string> = {};
  const body: { keep: number; mode?: GuestBackupMode; storage?: string } = { keep: readWholeNumber(errors, 'keep', d.keep, true)! };
  if (d.mode) body.mode = d.mode;
  if (d.storage.trim()) body.storage = d.storage.trim();
  return { body, errors };
}

/** A backup schedule: five cron fields (minute hour day month weekday) besides the backup's own settings. */
export function readSchedule(d: ScheduleDraft) {
  const { body, errors } = readBackup(d);
  const cron = d.cron.trim().replace(/\s+/g, ' ');
  if (!cron) errors.cron = 'required';
  else if (cron.split(' ').length !== 5) errors.cron = 'five fields: minute hour day-of-month month day-of-week, like "30 3 * * *"';
  return { body: { ...body, cron }, errors };
}
