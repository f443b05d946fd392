import { MAX_REPLY_LINE_LENGTH, ReplyAccumulator, SmtpProtocolError, type SmtpReply } from "./reply";

/** Thrown when a step's deadline passes; the channel closes the socket so nothing stays pending. */
export class SmtpTimeoutError extends Error {
  override readonly name = "SmtpTimeoutError";
}

/** The server closed the connection (or it broke) while we waited for a reply. */
export class SmtpConnectionClosedError extends Error {
  override readonly name = "SmtpConnectionClosedError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LF = 0x0a;
const CR = 0x0d;
/** Writes larger messages in pieces so a slow server applies back-pressure instead of us buffering it all. */
const WRITE_CHUNK = 64 * 1024;

/**
 * Line-oriented reading and writing of one socket (or of its TLS upgrade). Owns the stream locks until
 * `release()`; bytes read past the last reply are kept for the next one (PIPELINING replies arrive
 * together), and `buffered()` tells the STARTTLS step whether the server sent anything it must not have.
 */
export class SmtpChannel {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(private readonly socket: Socket) {
    this.reader = socket.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    this.writer = socket.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
  }

  /** Writes `text`, each piece within `timeoutMs` and all of it before `deadline` (epoch ms). */
  async write(text: string, timeoutMs: number, deadline = Number.POSITIVE_INFINITY): Promise<void> {
    const bytes = encoder.encode(text);
    for (let i = 0; i < bytes.length; i += WRITE_CHUNK) {
      const left = deadline - Date.now();
      if (left <= 0) {
        await this.close();
        throw new SmtpTimeoutError("the attempt's time budget is used up");
      }
      await this.within(this.writer.write(bytes.subarray(i, i + WRITE_CHUNK)), Math.min(timeoutMs, left));
    }
  }

  /** The next complete reply (all its lines), within `timeoutMs`. */
  async readReply(timeoutMs: number): Promise<SmtpReply> {
    const acc = new ReplyAccumulator();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.readLine(deadline);
      const reply = acc.push(line);
      if (reply) return reply;
    }
  }

  buffered(): number {
    return this.pending.length;
  }

  /** Gives the streams back (before `startTls()`, which needs them unlocked). */
  release(): void {
    this.reader.releaseLock();
    this.writer.releaseLock();
    this.pending = new Uint8Array(0);
  }

  async close(): Promise<void> {
    await this.socket.close().catch(() => undefined);
  }

  private async readLine(deadline: number): Promise<string> {
    for (;;) {
      const lf = this.pending.indexOf(LF);
      if (lf >= 0) {
        const end = lf > 0 && this.pending[lf - 1] === CR ? lf - 1 : lf;
        const line = decoder.decode(this.pending.subarray(0, end));
        this.pending = this.pending.subarray(lf + 1);
        return line;
      }
      if (this.pending.length > MAX_REPLY_LINE_LENGTH) throw new SmtpProtocolError("reply line too long");
      const { value, done } = await this.within(this.reader.read(), deadline - Date.now());
      if (done) throw new SmtpConnectionClosedError("the server closed the connection");
      const joined = new Uint8Array(this.pending.length + value.length);
      joined.set(this.pending);
      joined.set(value, this.pending.length);
      this.pending = joined;
    }
  }

  /** Closing the socket on timeout settles the pending read/write, so nothing outlives the attempt. */
  private within<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    return withTimeout(promise, timeoutMs, () => void this.close());
  }
}

/** Waits for `promise` at most `timeoutMs`; on timeout calls `onTimeout` and rejects. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        // Rejected before the socket is closed: closing settles the pending read at once (as "closed"),
        // which would otherwise win the race and report a timeout as a dropped connection.
        reject(new SmtpTimeoutError(`no answer within ${timeoutMs} ms`));
        onTimeout();
      },
      Math.max(0, timeoutMs),
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
