import { JTI_RETENTION_AFTER_EXP_S } from "../../src/protocol/limits";

/** Seen-`jti` store (design §2.9). The on-disk journal implements the same interface later. */
export interface ReplayJournal {
  has(jti: string): Promise<boolean>;
  /** Atomic test-and-set: false when the jti was already recorded (a concurrent duplicate). */
  remember(jti: string, exp: number): Promise<boolean>;
}

/** What the executor has done, as far as verification needs it (design §2.7). */
export interface ExecutionState {
  /** The `idem` has a stored result. */
  isDone(idem: string): Promise<boolean>;
  /** The `idem` began running here (and has no result yet): a new lease of it resumes it. */
  hasStarted(idem: string): Promise<boolean>;
  /** Highest generation applied to a resource uid, or undefined if none. */
  appliedGeneration(uid: string): Promise<number | undefined>;
  /** The work item (`sub`) has finished, whatever its outcome. */
  isFinished(itemId: string): Promise<boolean>;
}

/** In-memory journal for tests and development; entries expire after `exp` + 60 s. */
export function createMemoryReplayJournal(clock: { now(): number }): ReplayJournal {
  const seen = new Map<string, number>();
  const prune = () => {
    const nowS = clock.now() / 1000;
    for (const [jti, exp] of seen) if (exp + JTI_RETENTION_AFTER_EXP_S < nowS) seen.delete(jti);
  };
  return {
    async has(jti) {
      prune();
      return seen.has(jti);
    },
    async remember(jti, exp) {
      prune();
      if (seen.has(jti)) return false;
      seen.set(jti, exp);
      return true;
    },
  };
}

export type MemoryExecutionState = ExecutionState & {
  markStarted(idem: string): void;
  markDone(idem: string, itemId: string): void;
  markApplied(uid: string, gen: number): void;
};

/** In-memory execution state with setters, so tests can mark items done and generations applied. */
export function createMemoryExecutionState(): MemoryExecutionState {
  const done = new Set<string>();
  const started = new Set<string>();
  const finished = new Set<string>();
  const generations = new Map<string, number>();
  return {
    async isDone(idem) {
      return done.has(idem);
    },
    async hasStarted(idem) {
      return started.has(idem) && !done.has(idem);
    },
    markStarted(idem) {
      started.add(idem);
    },
    async appliedGeneration(uid) {
      return generations.get(uid);
    },
    async isFinished(itemId) {
      return finished.has(itemId);
    },
    markDone(idem, itemId) {
      done.add(idem);
      finished.add(itemId);
    },
    markApplied(uid, gen) {
      generations.set(uid, Math.max(gen, generations.get(uid) ?? 0));
    },
  };
}
