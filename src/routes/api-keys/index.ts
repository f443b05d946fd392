import { newApp } from "../../http/app";

/** Mounted at /api/v1/api-keys. */
export const apiKeysApp = newApp();
