import { newApp } from "../../http/app";

/** Mounted at /api/v1/roles. */
export const rolesApp = newApp();
