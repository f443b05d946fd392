import { newApp } from "../../http/app";

/** Mounted at /api/v1/users. */
export const usersApp = newApp();
