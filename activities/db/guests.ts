import type { Database } from '@keelson/db';
import { guests, type GuestState } from '@keelson/db/schema';
import { and, eq, sql } from 'drizzle-orm';

/** What a Proxmox workflow learned about a guest; fields left out keep their value. */
export interface GuestRecordPatch {
  tenantId: string;
  guestId: string;
  state?: Exclude<GuestState, 'provisioning'>;
  vmid?: number;
  node?: string;
  ip?: string;
  cores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  /** Recorded with `failed`; any other state clears the last error. */
  error?: string;
}

/**
 * Guest bookkeeping for the Proxmox workflows (core queue, Postgres only). Keyed by tenant and
 * guest id: repeating a call leaves the same row. A destroyed guest stays destroyed, so a late
 * retry of an earlier step cannot bring its record back.
 */
export function createGuestDbActivities({ db }: { db: Database }) {
  return {
    async recordGuest(patch: GuestRecordPatch): Promise<void> {
      const { tenantId, guestId, state, error, diskGiB, ...facts } = patch;
      const set = Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined));
      await db
        .update(guests)
        .set({
          ...set,
          // Disk sizes from Proxmox may be fractional GiB; the record keeps whole ones.
          ...(diskGiB !== undefined ? { diskGiB: Math.round(diskGiB) } : {}),
          ...(state ? { state, lastError: state === 'failed' ? (error ?? null) : null } : {}),
          updatedAt: sql`now()`,
        })
        .where(and(eq(guests.tenantId, tenantId), eq(guests.id, guestId), sql`${guests.state} <> 'destroyed'`));
    },
  };
}

export type GuestDbActivities = ReturnType<typeof createGuestDbActivities>;
