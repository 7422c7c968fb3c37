/** The contract between the bench (figures/auth.ts) and the bench platform's seeder (bench/platform/seed.ts). */

/** What the bench asks for: the one argument of the seeder, as JSON. */
export interface SeedRequest {
  count: number;
  /** Tenant i gets the slug `${slugPrefix}${i}`. */
  slugPrefix: string;
  keysPerTenant: number;
  scopes: string[];
  /** Tenants created at once (each one's keys one after the other). */
  concurrency: number;
  /** Where the SeedResult is written, as JSON. */
  out: string;
}

export interface SeedResult {
  tenants: { slug: string; keys: string[] }[];
  /** The creation alone, without booting and closing the seeder's services. */
  seconds: number;
}
