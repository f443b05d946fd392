const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * Time-sortable, URL-safe id (ULID layout: 48-bit ms timestamp + 80 random bits, Crockford base32),
 * optionally prefixed (`req_01J…`) so an id says what it names.
 */
export function newId(prefix?: string, now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD.charAt(t % 32) + time;
    t = Math.floor(t / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rand = "";
  for (const byte of random) rand += CROCKFORD.charAt(byte % 32);
  const id = time + rand;
  return prefix ? `${prefix}_${id}` : id;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** A caller-supplied request id is echoed only when it cannot smuggle anything into logs or headers. */
export function acceptRequestId(candidate: string | undefined | null): string {
  return candidate && SANE_REQUEST_ID.test(candidate) ? candidate : newId("req");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
