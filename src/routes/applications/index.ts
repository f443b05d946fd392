import { newApp } from "../../http/app";

/** Mounted at /api/v1/applications. */
export const applicationsApp = newApp();
