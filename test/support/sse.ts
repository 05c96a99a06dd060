/** One block of a `text/event-stream`: an event, or a comment (a heartbeat). */
export type SseBlock =
  | { kind: "event"; event: string; data: string; id: string | null }
  | { kind: "comment"; text: string };

type Chunk = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;

/**
 * Reads a server-sent event stream the way a client does (the parts of the format our server
 * writes: `event`, `data`, `id` and comment lines), one block at a time, with timeouts.
 */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  #pending: Promise<Chunk> | undefined;

  constructor(res: Response) {
    if (!res.body) throw new Error("the response has no body");
    this.#reader = res.body.getReader();
  }

  /** The next block, "end" when the server closed the stream, or "timeout". */
  async next(timeoutMs = 3000): Promise<SseBlock | "end" | "timeout"> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const block = this.#take();
      if (block) return block;
      this.#pending ??= this.#reader.read();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
      });
      const chunk = await Promise.race([this.#pending, expired]);
      clearTimeout(timer);
      if (chunk === "timeout") return "timeout";
      this.#pending = undefined;
      if (chunk.done) return "end";
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next event (comments skipped), failing on the end of the stream or a timeout. */
  async event(timeoutMs = 3000): Promise<Extract<SseBlock, { kind: "event" }>> {
    for (;;) {
      const block = await this.next(timeoutMs);
      if (block === "end" || block === "timeout") throw new Error(`no event: ${block}`);
      if (block.kind === "event") return block;
    }
  }

  /** Closes the stream from the client's side, as a browser leaving the page does. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  #take(): SseBlock | undefined {
    const end = this.#buffer.indexOf("\n\n");
    if (end < 0) return undefined;
    const lines = this.#buffer.slice(0, end).split("\n");
    this.#buffer = this.#buffer.slice(end + 2);
    if (lines.every((l) => l.startsWith(":"))) {
      return { kind: "comment", text: lines.map((l) => l.slice(1).trim()).join("\n") };
    }
    const data: string[] = [];
    let event = "";
    let id: string | null = null;
    for (const line of lines) {
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id") id = value;
    }
    return { kind: "event", event, data: data.join("\n"), id };
  }
}
