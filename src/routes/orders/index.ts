import { newApp } from "../../http/app";

export const ordersApp = newApp();
