import {
  PG_CHECK_VIOLATION,
  PG_FOREIGN_KEY_VIOLATION,
  PG_UNIQUE_VIOLATION,
  pgErrorOf,
} from "../../db/errors";
import { ConflictError, ValidationError } from "../../lib/errors";

/** Constraint violations of a user write, as the errors callers understand; anything else unchanged. */
export function userWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (!pg) return error;
  if (pg.code === PG_UNIQUE_VIOLATION && pg.constraint === "users_tenant_email_key") {
    return new ConflictError("A user with this email already exists", { details: { field: "email" } });
  }
  if (pg.code === PG_UNIQUE_VIOLATION && pg.constraint === "users_tenant_username_key") {
    return new ConflictError("A user with this username already exists", { details: { field: "username" } });
  }
  if (pg.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "users_organization_fk") {
    return new ValidationError("Unknown organization", {
      organizationId: ["No such organization in this tenant"],
    });
  }
  if (pg.code === PG_CHECK_VIOLATION && pg.constraint === "users_email_lowercase") {
    return new ValidationError("Invalid email", { email: ["Must be lower-case"] });
  }
  return error;
}
