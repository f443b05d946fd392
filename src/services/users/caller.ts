import { cacheKeys } from "../../cache/keys";
import { UnauthorizedError } from "../../lib/errors";
import type { Principal } from "../auth/principal";
import type { ServiceContext } from "../context";

/** A signed-in user or an API key acting inside its tenant (applicants never reach these services). */
export interface Caller {
  tenantId: string;
  principal: Exclude<Principal, { kind: "applicant" }>;
  /** The calling user; null for an API key. */
  userId: string | null;
  superuser: boolean;
}

export function callerOf(ctx: ServiceContext): Caller {
  const principal = ctx.principal;
  if (!principal || principal.kind === "applicant") throw new UnauthorizedError("Authentication required");
  return {
    tenantId: principal.tenantId,
    principal,
    userId: principal.kind === "user" ? principal.userId : null,
    superuser: principal.kind === "user" && principal.superuser,
  };
}

/** The auth middleware's cached record of each user (`auth:user:<tenant>:<user>`), as full Redis keys. */
export function authUserKeys(ctx: ServiceContext, tenantId: string, userIds: readonly string[]): string[] {
  return [...new Set(userIds)].map((id) => ctx.cache.key(cacheKeys.authUser.name(tenantId, id)));
}

/** Timestamps arrive as driver text or Date; the API speaks ISO 8601 UTC. */
export function isoOf(value: string | Date): string {
  return new Date(value).toISOString();
}

export function isoOrNull(value: string | Date | null): string | null {
  return value === null ? null : isoOf(value);
}
