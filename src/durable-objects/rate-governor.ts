import { DurableObject } from "cloudflare:workers";

/** Skeleton: the rate governor is being written (see src/lib/upstream-gate.ts for its contract). */
export class RateGovernor extends DurableObject<Env> {}
