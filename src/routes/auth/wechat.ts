import { newApp } from "../../http/app";

/** Mounted at /api/v1/auth/wechat. */
export const wechatAuthApp = newApp();
