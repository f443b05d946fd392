import { ForbiddenError } from "../../lib/errors";
import { isPermission } from "../auth/permissions";
import { hasPermission } from "../auth/principal";
import type { Caller } from "../users/caller";

/**
 * Privilege-escalation guard: a caller may hand out (through a role it creates, edits or assigns) only
 * permissions it holds itself. A superuser holds every permission of its tenant.
 */
export function permissionsBeyondCaller(caller: Caller, permissions: Iterable<string>): string[] {
  if (caller.superuser) return [];
  const beyond = new Set<string>();
  for (const p of permissions) {
    if (!isPermission(p) || !hasPermission(caller.principal, p)) beyond.add(p);
  }
  return [...beyond].sort();
}

export function assertCanGrant(caller: Caller, permissions: Iterable<string>, what: string): void {
  const beyond = permissionsBeyondCaller(caller, permissions);
  if (beyond.length > 0) {
    throw new ForbiddenError(`${what} would grant permissions you do not hold: ${beyond.join(", ")}`, {
      details: { permissions: beyond },
    });
  }
}

/**
 * The same guard as a SQL parameter: the permissions a non-superuser caller may grant (their own,
 * expanded), so a write can re-check it atomically; null for a superuser (no limit).
 */
export function grantableByCaller(caller: Caller): string[] | null {
  return caller.superuser ? null : [...caller.principal.permissions].sort();
}
