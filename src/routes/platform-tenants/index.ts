import { newApp } from "../../http/app";

/** Mounted at /api/v1/tenants. */
export const platformTenantsApp = newApp();
