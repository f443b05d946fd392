import type * as z from "zod";
import { ValidationError } from "../lib/errors";

/** Zod issues → `{ "field.path": ["message", …] }`; issues about the whole value go under `_root`. */
export function toValidationError(error: z.ZodError, where: string): ValidationError {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "_root";
    fields[path] ??= [];
    fields[path].push(issue.message);
  }
  return new ValidationError(`Invalid ${where}`, fields);
}
