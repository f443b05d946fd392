/**
 * Every permission string a role or API key can hold. Routes name one with `requirePermission(...)`;
 * roles and API-key scopes are validated against this list, so a typo is a 422, never a silent no-op.
 * Later capabilities add theirs here.
 */
export const PERMISSIONS = [
  "users:read",
  "users:write",
  "users:admin",
  "roles:read",
  "roles:admin",
  "organizations:read",
  "organizations:write",
  "applications:review",
  "api_keys:admin",
  "tenant:admin",
  "orders:read",
  "orders:write",
  "sync:read",
  "sync:admin",
  "tickets:read",
  "tickets:write",
  "tickets:admin",
  "chat:read",
  "chat:write",
  "tracking:read",
  "tracking:write",
  "email:send",
  "email:admin",
  "webhooks:read",
  "webhooks:admin",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const KNOWN = new Set<string>(PERMISSIONS);

export function isPermission(value: string): value is Permission {
  return KNOWN.has(value);
}

/** A stronger permission implies the weaker ones of its resource (`users:admin` ⊇ `users:write` ⊇ `users:read`). */
const IMPLIES: Partial<Record<Permission, Permission[]>> = {
  "users:admin": ["users:write", "users:read"],
  "users:write": ["users:read"],
  "roles:admin": ["roles:read"],
  "organizations:write": ["organizations:read"],
  "orders:write": ["orders:read"],
  "sync:admin": ["sync:read"],
  "tickets:admin": ["tickets:write", "tickets:read"],
  "tickets:write": ["tickets:read"],
  "chat:write": ["chat:read"],
  "tracking:write": ["tracking:read"],
  "email:admin": ["email:send"],
  "webhooks:admin": ["webhooks:read"],
};

export function expandPermissions(granted: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of granted) {
    if (!isPermission(p)) continue;
    out.add(p);
    for (const implied of IMPLIES[p] ?? []) out.add(implied);
  }
  return out;
}
