import { newApp } from "../../http/app";

export const connectionsApp = newApp();
