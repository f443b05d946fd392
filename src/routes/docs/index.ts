import { newApp } from "../../http/app";

/** Scalar's standalone reference, loaded from its CDN by the browser; the Worker only serves this shell. */
const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Tradewind API reference</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
  </body>
</html>`;

const DOCS_CSP = [
  "default-src 'none'",
  "script-src https://cdn.jsdelivr.net 'unsafe-eval'",
  "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.scalar.com",
  "font-src https://cdn.jsdelivr.net https://fonts.scalar.com data:",
  "img-src 'self' data: https:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export const docsApp = newApp().get("/", (c) => {
  c.header("Content-Security-Policy", DOCS_CSP);
  c.header("Cache-Control", "public, max-age=300");
  return c.html(DOCS_HTML);
});
