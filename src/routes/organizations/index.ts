import { newApp } from "../../http/app";

/** Mounted at /api/v1/organizations. */
export const organizationsApp = newApp();
