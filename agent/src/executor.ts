import type { WorkItemClaims } from "../../src/protocol/work-item";

/** What a handler reports; the runtime turns it into the `result` body. */
export type ExecutionOutcome =
  | { outcome: "succeeded"; output?: Record<string, unknown>; observed?: Record<string, unknown> }
  | {
      outcome: "failed";
      error: { code: string; message?: string; retryable: boolean };
      observed?: Record<string, unknown>;
    }
  /** Stopped at a safe point (or before it began); `observed` is the VM as it was left. */
  | { outcome: "cancelled"; observed?: Record<string, unknown> };

export type ExecutionContext = {
  item: WorkItemClaims;
  /**
   * Aborted on cancellation or timeout; handlers stop at their next safe point. A stopping agent
   * lets the item finish (its lease is renewed meanwhile).
   */
  signal: AbortSignal;
  /** Progress for the control plane (batched by the runtime). */
  progress(message: string, data?: Record<string, unknown>): void;
};

/**
 * One op: `validate` checks params (design §2.5 step 6) before anything is journaled;
 * `run` must be idempotent under redelivery (check real state, act, check again).
 */
export type OpHandler = {
  validate(params: Record<string, unknown>): boolean;
  run(ctx: ExecutionContext): Promise<ExecutionOutcome>;
};

/** The op allow-list: `op@op_v` → handler. Anything unregistered is refused. */
export class Executor {
  readonly #handlers = new Map<string, OpHandler>();

  register(op: string, version: number, handler: OpHandler): this {
    const key = `${op}@${version}`;
    if (this.#handlers.has(key)) throw new Error(`op ${key} registered twice`);
    this.#handlers.set(key, handler);
    return this;
  }

  handler(op: string, version: number): OpHandler | undefined {
    return this.#handlers.get(`${op}@${version}`);
  }

  ops(): string[] {
    return [...this.#handlers.keys()].sort();
  }
}

const noParams = (params: Record<string, unknown>) => Object.keys(params).length === 0;

/** `host.noop`: does nothing, successfully; proves the protocol end to end. */
export const hostNoop: OpHandler = {
  validate: noParams,
  async run() {
    return { outcome: "succeeded", output: { noop: true } };
  },
};

/** `host.ping`: answers with the agent's clock, so operators can check a host round trip. */
export const hostPing: OpHandler = {
  validate: noParams,
  async run() {
    return { outcome: "succeeded", output: { pong: Date.now() } };
  },
};

/** `host.sleep` (test only): waits `ms`, stopping early on cancellation. */
export const hostSleep: OpHandler = {
  validate: (p) =>
    Object.keys(p).length === 1 &&
    typeof p.ms === "number" &&
    Number.isInteger(p.ms) &&
    p.ms >= 0 &&
    p.ms <= 600_000,
  run({ item, signal, progress }) {
    const ms = Number(item.params.ms);
    progress("sleeping", { ms });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ outcome: "succeeded", output: { slept: ms } }), ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve({ outcome: "cancelled" });
      });
    });
  },
};

/** The executor this issue ships; VM ops are registered by the hypervisor work. */
export function defaultExecutor(options: { testOps?: boolean } = {}): Executor {
  const executor = new Executor()
    .register("host.noop", 1, hostNoop)
    .register("host.ping", 1, hostPing);
  if (options.testOps) executor.register("host.sleep", 1, hostSleep);
  return executor;
}
