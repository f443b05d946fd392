import { newApp } from "../../http/app";

export const syncApp = newApp();
