/**
 * WeChat serves every mini-program request with `Referer: https://servicewechat.com/{appid}/{version}/page-frame.html`
 * (`version` is a number, or `devtools`/`0` in the simulator). The app id in it names the mini-program.
 */
const MINI_PROGRAM_REFERER =
  /^https:\/\/servicewechat\.com\/(wx[0-9A-Za-z]{16})\/[0-9A-Za-z._-]+\/page-frame\.html$/;

export function appIdFromReferer(referer: string | null | undefined): string | null {
  if (!referer) return null;
  return MINI_PROGRAM_REFERER.exec(referer.trim())?.[1] ?? null;
}
