import { newApp } from "../../http/app";

export const mappingsApp = newApp();
