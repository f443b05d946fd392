import { TRACK17_MAX_BATCH } from "../../adapters/tracking/track17/types";

/** A claimed registration: which tenant asked to track which number. */
export interface PendingParcel {
  tenantId: string;
  trackingNumber: string;
}

/**
 * Packs numbers of many tenants into 17track requests of at most `size` (40). Each tenant's numbers take
 * the fewest requests they can (ceil(n / 40)): its full batches go alone, and only the remainders of
 * different tenants share requests (first fit, largest remainder first). A shared request never carries one
 * number twice (two tenants tracking one parcel): 17track would answer the second "already registered"
 * inside the same call, and the outcomes are matched by number.
 *
 * Every row is returned exactly once; the order within a tenant is kept.
 */
export function packRegistrationBatches<T extends PendingParcel>(
  rows: readonly T[],
  size: number = TRACK17_MAX_BATCH,
): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError("batch size must be a positive integer");
  const byTenant = new Map<string, T[]>();
  for (const row of rows) {
    const group = byTenant.get(row.tenantId);
    if (group) group.push(row);
    else byTenant.set(row.tenantId, [row]);
  }
  const full: T[][] = [];
  const remainders: T[][] = [];
  for (const group of byTenant.values()) {
    const whole = group.length - (group.length % size);
    for (let i = 0; i < whole; i += size) full.push(group.slice(i, i + size));
    if (whole < group.length) remainders.push(group.slice(whole));
  }
  // Stable sort: equal remainders keep the order their tenants were claimed in.
  remainders.sort((a, b) => b.length - a.length);
  const shared: { rows: T[]; numbers: Set<string> }[] = [];
  for (const remainder of remainders) {
    const bin = shared.find(
      (b) =>
        b.rows.length + remainder.length <= size && !remainder.some((r) => b.numbers.has(r.trackingNumber)),
    );
    if (bin) {
      bin.rows.push(...remainder);
      for (const r of remainder) bin.numbers.add(r.trackingNumber);
    } else {
      shared.push({ rows: [...remainder], numbers: new Set(remainder.map((r) => r.trackingNumber)) });
    }
  }
  return [...full, ...shared.map((b) => b.rows)];
}
