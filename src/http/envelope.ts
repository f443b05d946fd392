import type { Context } from "hono";
import type { ErrorCode } from "../lib/errors";
import type { AppEnv } from "./types";

export interface Meta {
  requestId: string;
  timestamp: string;
}

export interface SuccessBody<T> {
  success: true;
  data: T;
  meta: Meta;
}

export interface ErrorBody {
  success: false;
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
  meta: Meta;
}

function meta(c: Context<AppEnv>): Meta {
  return { requestId: c.get("requestId"), timestamp: new Date().toISOString() };
}

export function successBody<T>(c: Context<AppEnv>, data: T): SuccessBody<T> {
  return { success: true, data, meta: meta(c) };
}

export function errorBody(
  c: Context<AppEnv>,
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> | undefined },
): ErrorBody {
  const { details, ...rest } = error;
  return { success: false, error: details === undefined ? rest : { ...rest, details }, meta: meta(c) };
}
