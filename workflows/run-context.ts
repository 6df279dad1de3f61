/** What every Keelson workflow receives besides its own input: who asked, for which tenant. */
export interface RunContext {
  tenantId: string;
  actor: string;
}
