import { newApp } from "../../http/app";

/** Mounted at /api/v1/settings. */
export const settingsApp = newApp();
