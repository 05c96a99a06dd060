import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import {
  ackResponseSchema,
  type ClaimResponse,
  claimResponseSchema,
  enrollmentStatusSchema,
  HELD_STEP,
  MAX_REPORTED_BLOCKED,
  trustResponseSchema,
} from "../../src/protocol/agent-api";
import { CLOCK_SKEW_TOLERANCE_S } from "../../src/protocol/limits";
import type { RejectionReason } from "../../src/protocol/rejections";
import type { PublicJwk, TrustDocument } from "../../src/protocol/trust";
import type { WorkItemClaims } from "../../src/protocol/work-item";
import { backoffMs, type ControlPlaneClient, ControlPlaneError, jitter } from "./client";
import type { ExecutionOutcome, Executor } from "./executor";
import type { FileJournal, JournalEntry } from "./journal-file";
import type { AgentLog } from "./log";
import { ProgressOutbox } from "./progress";
import { verifyTrustBundle } from "./trust-bundle";
import { verifyWorkItem } from "./verify";
import { WakeupClient } from "./wakeup-client";

export type RuntimeOptions = {
  hostId: string;
  issuer: string;
  /** The pinned trust root: the only key a trust bundle may be signed with. */
  trustRoot: PublicJwk;
  heartbeatMs: number;
  statusMs: number;
  /** Safety claim period, whatever the wake-up path says (design §2.13: 60 s). */
  claimMs: number;
  /** Plain polling period when the long poll fails (5 s ± 20 %). */
  pollMs: number;
  /** Long poll length in seconds (≤ 25). */
  waitS: number;
  /** Listen on the doorbell WebSocket (else long poll / polling only). */
  websocket: boolean;
  /** Approval polling period (30 s ± 20 %). */
  approvalPollMs: number;
  /** 409 session_conflict on the doorbell: retry period and how long until the agent exits. */
  sessionConflict: { retryMs: number; exitMs: number };
  status: () => Promise<Record<string, unknown>>;
};

type Handle = { itemId: string; idem: string; leaseEpoch: number; abort: AbortController };
type ClaimedItem = ClaimResponse["items"][number];

/**
 * An item verified up to its `after` list, waiting for those items to finish (design §2.7): not
 * journaled, its lease renewed, verified again in full before it runs. `busy` while the dispatch
 * loop or a cancellation is working on it, so the two never handle it at once.
 */
type Held = {
  claimed: ClaimedItem;
  claims: WorkItemClaims;
  cursor: number;
  trustVersion: number;
  busy: boolean;
};

/** How many doorbell cancellations of items not (yet) here are remembered. */
const MAX_CANCELS_HEARD = 1_000;

/** What the control plane may answer to an `accepted` ack for an item that may then run. */
const RUNNABLE_AFTER_ACK = new Set(["accepted", "running"]);

/** The last accepted trust bundle (the JWS, verified again on start). */
const TRUST_KEY = "trust_bundle";
/** How long after a finished item the status goes out (items finishing together share one). */
const STATUS_AFTER_CHANGE_MS = 1_000;
/** An unknown `kid` causes at most one trust refresh per 30 s (design §2.5 step 2). */
const UNKNOWN_KID_REFRESH_COOLDOWN_MS = 30_000;

/** The agent loop: approval, resume, dispatch (wake-up + safety claim), renew, heartbeat, status. */
export class AgentRuntime {
  readonly #client: ControlPlaneClient;
  readonly #journal: FileJournal;
  readonly #executor: Executor;
  readonly #log: AgentLog;
  readonly #o: RuntimeOptions;
  #trust: TrustDocument | undefined;
  #unknownKidRefreshAt = Number.NEGATIVE_INFINITY;
  /** Items named by a doorbell `cancel` that were neither held nor running here at the time. */
  readonly #cancelHeard = new Set<string>();
  /** How this agent hears of work and cancellations; made once the host is approved. */
  #wakeup: WakeupClient | undefined;
  /** Set when a claim round refused an item for a reason that may pass: back off before the next. */
  #retryLater = false;
  #cursor = 0;
  #rescanAt = 0;
  #renewMs = 20_000;
  #running = false;
  #stop = new AbortController();
  readonly #inFlight = new Map<string, Handle>();
  readonly #held = new Map<string, Held>();
  #renewing: Promise<void> | undefined;
  #renewAgain = false;
  /** Items finished here so far, and that count when held items were last checked. */
  #finished = 0;
  #finishedAtRelease = 0;
  /** Work started outside the loops (a held item's cancellation), awaited before run() ends. */
  readonly #background = new Set<Promise<void>>();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Heartbeat and renewal: kept after stop() until the loops have ended. */
  readonly #untilEndTimers: NodeJS.Timeout[] = [];
  #exitCode = 0;
  #statusPending: NodeJS.Timeout | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(
    client: ControlPlaneClient,
    journal: FileJournal,
    executor: Executor,
    log: AgentLog,
    options: RuntimeOptions,
  ) {
    this.#client = client;
    this.#journal = journal;
    this.#executor = executor;
    this.#log = log;
    this.#o = options;
  }

  get exitCode(): number {
    return this.#exitCode;
  }

  /** Runs until `stop()` (or a revocation); resolves when everything has wound down. */
  async run(): Promise<void> {
    this.#running = true;
    this.#done = this.#main();
    await this.#done;
  }

  async stop(code = 0): Promise<void> {
    if (!this.#running) return;
    this.#exitCode = code;
    this.#running = false;
    this.#stop.abort();
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#statusPending);
  }

  /** After the loops ended: the timers that kept a stopping agent's running items alive. */
  #ended(): void {
    for (const t of this.#untilEndTimers) clearInterval(t);
  }

  async #main(): Promise<void> {
    try {
      const stored = this.#journal.getValue(TRUST_KEY);
      if (stored) await this.#acceptTrust(stored);
      await this.#awaitApproval();
      if (!this.#running) return;
      // Liveness and leases go on while a stopping agent finishes the item it runs.
      this.#every(this.#o.heartbeatMs, () => this.#heartbeat(), { untilEnd: true });
      this.#every(this.#o.statusMs, () => this.#status());
      this.#every(this.#renewMs, () => this.#renewSoon(), { untilEnd: true });
      void this.#status().catch((e) => this.#fatalOr(e, "status report failed"));
      this.#wakeup = this.#wakeupClient();
      await this.#resume();
      await this.#dispatch(this.#wakeup);
    } catch (error) {
      if (this.#running) {
        this.#log.error("agent stopped on an error", { error: String(error) });
        await this.stop(1);
      }
    } finally {
      await Promise.allSettled(this.#background);
      this.#ended();
    }
  }

  #inBackground(work: Promise<void>): void {
    const tracked = work
      .catch((e: unknown) => this.#fatalOr(e, "background work failed"))
      .finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  #every(ms: number, fn: () => Promise<void>, options: { untilEnd?: boolean } = {}): void {
    const untilEnd = options.untilEnd === true;
    const t = setInterval(() => {
      const stoppingWithWork = untilEnd && this.#inFlight.size > 0;
      if (this.#running || stoppingWithWork) {
        void fn().catch((e) => this.#fatalOr(e, "periodic call failed"));
      }
    }, ms);
    (untilEnd ? this.#untilEndTimers : this.#timers).push(t);
  }

  /** Design §2.11: revoked/rejected → stop taking work and exit non-zero; others are logged. */
  #fatalOr(error: unknown, message: string): void {
    if (
      error instanceof ControlPlaneError &&
      ["host_revoked", "host_rejected", "host_disabled"].includes(error.code)
    ) {
      this.#log.error("host is no longer allowed to work; stopping", { code: error.code });
      void this.stop(3);
      return;
    }
    this.#log.warn(message, { error: String(error) });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const { signal } = this.#stop;
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async #awaitApproval(): Promise<void> {
    let attempt = 0;
    let said = false;
    while (this.#running) {
      try {
        const reply = await this.#client.send("GET", "/enrollment");
        const status = enrollmentStatusSchema.parse(reply.body);
        await this.#acceptTrust(status.trust);
        const trust = this.#trust;
        // Nothing can be verified without a trust document: ask again (the refusal is logged).
        if (!trust) {
          await this.#sleep(backoffMs(attempt++));
          continue;
        }
        this.#renewMs = Math.max(1_000, Math.floor((status.intervals.lease_s * 1000) / 3));
        this.#log.info("host approved", {
          hostId: this.#o.hostId,
          trustVersion: trust.version,
        });
        return;
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === "pending_approval") {
          if (!said) this.#log.info("waiting for approval", { hostId: this.#o.hostId });
          said = true;
          await this.#sleep(jitter(this.#o.approvalPollMs));
          continue;
        }
        if (error instanceof ControlPlaneError && !error.transient && error.status !== 401) {
          this.#fatalOr(error, "enrollment check failed");
          if (!this.#running) return;
        }
        this.#log.warn("control plane unreachable; retrying", { error: String(error) });
        await this.#sleep(
          error instanceof ControlPlaneError && error.retryAfterMs
            ? error.retryAfterMs
            : backoffMs(attempt++),
        );
      }
    }
  }

  /**
   * Only a bundle signed by the pinned root (design §2.2), never older than the one held (design
   * §2.8); kept across restarts and verified again when read back.
   */
  async #acceptTrust(bundle: string): Promise<TrustDocument | undefined> {
    const checked = await verifyTrustBundle(bundle, this.#o.trustRoot);
    if (!checked.ok) {
      this.#log.error("security: trust bundle refused", { problem: checked.problem });
      return undefined;
    }
    const { root: _root, iat: _iat, ...doc } = checked.payload;
    if (this.#trust && doc.version < this.#trust.version) {
      this.#log.warn("refusing an older trust document", {
        have: this.#trust.version,
        got: doc.version,
      });
      return undefined;
    }
    this.#trust = doc;
    this.#journal.setValue(TRUST_KEY, bundle);
    return doc;
  }

  async #refreshTrust(): Promise<TrustDocument | undefined> {
    let body: unknown;
    try {
      body = (await this.#client.send("GET", "/trust")).body;
    } catch (error) {
      this.#log.warn("trust refresh failed", { error: String(error) });
      return undefined;
    }
    const parsed = trustResponseSchema.safeParse(body);
    if (!parsed.success) {
      this.#log.error("security: trust bundle refused", { problem: "malformed" });
      return undefined;
    }
    return this.#acceptTrust(parsed.data.trust);
  }

  /** A flood of items under unknown kids must not become a flood of trust fetches. */
  async #refreshTrustForUnknownKid(): Promise<TrustDocument | undefined> {
    if (Date.now() - this.#unknownKidRefreshAt < UNKNOWN_KID_REFRESH_COOLDOWN_MS) return undefined;
    this.#unknownKidRefreshAt = Date.now();
    return this.#refreshTrust();
  }

  async #heartbeat(): Promise<void> {
    await this.#client.send("POST", "/heartbeat", {
      body: { clock_offset_ms: this.#client.offsetMs },
    });
  }

  /**
   * Capacity, usage and the VM inventory change with the items the host runs: report them soon
   * after one finishes (design: status "on change"), once for a burst of items.
   */
  #statusSoon(): void {
    if (this.#statusPending || !this.#running) return;
    this.#statusPending = setTimeout(() => {
      this.#statusPending = undefined;
      if (!this.#running) return;
      void this.#status().catch((e) => this.#fatalOr(e, "status report failed"));
    }, STATUS_AFTER_CHANGE_MS);
  }

  async #status(): Promise<void> {
    const extra = await this.#o.status();
    await this.#client.send("POST", "/status", {
      body: {
        ...extra,
        clock_offset_ms: this.#client.offsetMs,
        journal_backlog: this.#journal.pending().length,
        blocked: [...this.#held.values()].slice(0, MAX_REPORTED_BLOCKED).map((h) => ({
          item_id: h.claimed.id,
          after: h.claims.after,
        })),
      },
    });
  }

  /** After a restart: re-send results the CP has not acknowledged; re-lease work in progress. */
  async #resume(): Promise<void> {
    for (const entry of this.#journal.pending()) {
      // Stopped meanwhile: what is left resumes at the next start.
      if (!this.#running) return;
      if (entry.state === "done") {
        this.#deliver(entry);
        continue;
      }
      let cancelled = false;
      try {
        // Retried while the control plane is unreachable: a skipped entry lapses, and its next
        // lease comes late.
        const reply = await this.#retrying(() =>
          this.#client.send("POST", `/items/${entry.itemId}/renew`, {
            body: { lease_epoch: entry.leaseEpoch, step: "resume" },
          }),
        );
        cancelled = (reply.body as { cancel?: unknown } | null)?.cancel === true;
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === "item_cancelled") {
          cancelled = true;
        } else {
          // A newer epoch exists (or it is stopping): the next claim re-delivers it, and one
          // begun here is resumed under that lease, even past its start_by (verify.ts).
          this.#log.info("journaled item not resumable under its old lease", {
            itemId: entry.itemId,
            error: String(error),
          });
          continue;
        }
      }
      if (cancelled) {
        // Cancelled while this agent was down (or before it could start it): never run.
        await this.#finishCancelled(entry);
        continue;
      }
      let claims: WorkItemClaims;
      try {
        claims = decodeJwt(entry.token) as WorkItemClaims;
      } catch {
        continue;
      }
      // Never started, and now too late or replaced (design §2.6, §2.12): refused, not run.
      const refusal = entry.state === "accepted" ? await this.#tooLateToStart(claims) : undefined;
      if (refusal) {
        await this.#refuseUnstarted(entry, refusal);
        continue;
      }
      this.#log.info("resuming journaled item", { itemId: entry.itemId, state: entry.state });
      await this.#execute(entry, claims);
    }
  }

  #wakeupClient(): WakeupClient {
    return new WakeupClient(this.#client, this.#log, {
      waitS: this.#o.waitS,
      pollMs: this.#o.pollMs,
      conflictRetryMs: this.#o.sessionConflict.retryMs,
      conflictExitMs: this.#o.sessionConflict.exitMs,
      // An item this agent holds or runs was cancelled: renew it now rather than at the next
      // renewal period, so the cancellation arrives within a round trip.
      onCancel: (itemId) => {
        void this.#renewOne(itemId).catch((e) => this.#fatalOr(e, "renew failed"));
      },
      onError: (error, message) => this.#fatalOr(error, message),
      onSessionConflict: () => {
        this.#log.error("another boot of this host keeps the doorbell; stopping (cloned host?)");
        void this.stop(1);
      },
    });
  }

  async #dispatch(wakeup: WakeupClient): Promise<void> {
    if (this.#o.websocket) wakeup.start(this.#stop.signal);
    let lastClaim = 0;
    let rung = true;
    let failures = 0;
    let retryRounds = 0;
    while (this.#running) {
      if (rung || Date.now() - lastClaim >= this.#o.claimMs) {
        lastClaim = Date.now();
        try {
          this.#retryLater = false;
          await this.#claimAll();
          failures = 0;
        } catch (error) {
          this.#fatalOr(error, "claim failed");
          // Back off; a ring (or the socket coming back) says the server is up again.
          const wait = error instanceof ControlPlaneError ? error.retryAfterMs : undefined;
          if (await wakeup.pause(wait ?? backoffMs(failures++), this.#stop.signal)) rung = true;
          continue;
        }
        // An item refused for a reason that may pass (a trust document not here yet, a token
        // not valid yet) is queued again at once, and the long poll would answer at once: the
        // next claim waits a growing, jittered while instead of spinning.
        if (this.#retryLater) {
          if (await wakeup.pause(backoffMs(retryRounds++), this.#stop.signal)) rung = true;
          continue;
        }
        retryRounds = 0;
      }
      if (!this.#running) return;
      // Doorbell socket, long poll or polling (agent/src/wakeup-client.ts), up to the safety claim.
      const untilSafety = Math.max(0, this.#o.claimMs - (Date.now() - lastClaim));
      rung = await wakeup.next(this.#cursor, untilSafety, this.#stop.signal);
    }
  }

  async #claimAll(): Promise<void> {
    // Once per safety period, claim from the start: an item whose claim response was lost, or
    // whose handle this agent dropped, lapses below the cursor and would never come back.
    if (Date.now() - this.#rescanAt >= this.#o.claimMs) {
      this.#rescanAt = Date.now();
      this.#cursor = 0;
    }
    for (;;) {
      const cursor = this.#cursor;
      const reply = await this.#client.send("POST", "/claim", { body: { cursor, max_items: 10 } });
      const claim = claimResponseSchema.parse(reply.body);
      this.#cursor = Math.max(this.#cursor, claim.cursor);
      // The CP announces a newer trust document (key rotation): fetch it before verifying. (If
      // it cannot be had, the items are refused `stale_trust` and the next claim backs off.)
      if (this.#trust && claim.trust_version > this.#trust.version) await this.#refreshTrust();
      for (const item of claim.items) {
        // After a stop these are still admitted (journaled and acked, not run): they are leased
        // to this host already, and the next start resumes them instead of waiting out the ack
        // window.
        await this.#admit(item, claim.trust_version, cursor);
        await this.#releaseHeld();
      }
      if (claim.items.length < 10 || !this.#running) break;
    }
    // Held items are verified in full at least once per claim: one may have passed its deadline.
    await this.#releaseHeld({ recheckAll: true });
  }

  /** Verifies a claimed item (design §2.5), then holds, refuses, or journals, acks and runs it. */
  async #admit(claimed: ClaimedItem, trustVersion: number, cursor: number): Promise<void> {
    const trust = this.#trust;
    if (!trust) throw new Error("no trust document");
    const result = await verifyWorkItem(claimed.token, {
      hostId: this.#o.hostId,
      issuer: this.#o.issuer,
      clock: { now: () => this.#client.now() },
      trust,
      refreshTrust: () => this.#refreshTrustForUnknownKid(),
      journal: this.#journal,
      state: this.#journal,
      claim: {
        cursor,
        trustVersion,
        leaseEpoch: claimed.lease_epoch,
        itemId: claimed.id,
      },
    });
    if (!result.ok && result.reason === "blocked") {
      await this.#hold(claimed, trustVersion, cursor);
      return;
    }
    this.#held.delete(claimed.id);
    if (!result.ok) {
      await this.#rejected(claimed, result.reason, result.retry, result.security);
      return;
    }
    const item = result.item;
    // Design §2.5 step 6: the op allow-list and its params schema.
    const handler = this.#executor.handler(item.op, item.op_v);
    if (!handler?.validate(item.params)) {
      await this.#rejected(claimed, "unsupported_op", false, true);
      return;
    }
    const journaled = await this.#accept(item, claimed.token);
    if (!journaled) return;
    if (!this.#running) {
      // Shutting down: an item claimed before the signal is journaled and acked but not started,
      // so the stop is not held up by it; the next start resumes it under this lease.
      this.#log.info("shutting down: work item left for the next start", { itemId: item.sub });
      return;
    }
    // A doorbell `cancel` heard while it was on its way here (claimed, verified, acked): the
    // renewal's answer decides, before anything runs.
    if (this.#cancelHeard.delete(item.sub) && (await this.#cancelledNow(journaled))) {
      await this.#finishCancelled(journaled);
      return;
    }
    await this.#execute(journaled, item);
  }

  /** Asks the control plane (a renewal) whether the journaled item was cancelled. */
  async #cancelledNow(entry: JournalEntry): Promise<boolean> {
    try {
      const reply = await this.#client.send("POST", `/items/${entry.itemId}/renew`, {
        body: { lease_epoch: entry.leaseEpoch },
      });
      return (reply.body as { cancel?: unknown } | null)?.cancel === true;
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === "item_cancelled") return true;
      this.#fatalOr(error, "renew failed");
      return false;
    }
  }

  /** Step 7: journal (fsync'd) before the ack; the caller executes only what this returns. */
  async #accept(item: WorkItemClaims, token: string): Promise<JournalEntry | undefined> {
    this.#journal.accept({
      idem: item.idem,
      itemId: item.sub,
      seq: item.seq,
      op: item.op,
      leaseEpoch: item.lease_epoch,
      attempt: item.attempt,
      resourceUid: item.resource.uid,
      gen: item.gen,
      token,
    });
    let answer: { state: string };
    try {
      const reply = await this.#retrying(() =>
        this.#client.send("POST", `/items/${item.sub}/ack`, {
          body: { status: "accepted", lease_epoch: item.lease_epoch },
        }),
      );
      answer = ackResponseSchema.parse(reply.body);
    } catch (error) {
      this.#log.warn("ack refused; dropping this handle", {
        itemId: item.sub,
        error: String(error),
      });
      return undefined;
    }
    const entry = this.#journal.entry(item.idem);
    if (entry && !RUNNABLE_AFTER_ACK.has(answer.state)) {
      // It ended on the control plane before this ack arrived (a cancel while its ack window
      // lapsed, say): never run. Its `cancelled` result is kept there as late.
      this.#log.info("work item ended before it could start", {
        itemId: item.sub,
        state: answer.state,
      });
      await this.#finishCancelled(entry);
      return undefined;
    }
    return entry;
  }

  /**
   * Design §2.7 `after`: the item waits (its lease renewed) until the items it names have
   * finished here. The first renewal goes out at once, as the ack window is shorter than a lease.
   */
  async #hold(claimed: ClaimedItem, trustVersion: number, cursor: number): Promise<void> {
    const existing = this.#held.get(claimed.id);
    // Held already, under this lease. A newer lease (the old one lapsed in a partition and the
    // rescan claimed it again) replaces it, or its renewals would go out under a stale epoch.
    if (existing && existing.claimed.lease_epoch >= claimed.lease_epoch) return;
    // The signature was verified before the order checks, so the payload is the CP's.
    const claims = decodeJwt(claimed.token) as WorkItemClaims;
    const held: Held = { claimed, claims, cursor, trustVersion, busy: false };
    this.#held.set(claimed.id, held);
    this.#log.info("work item held until the items it runs after finish", {
      itemId: claimed.id,
      after: claims.after,
    });
    this.#statusSoon();
    await this.#renewHeld(held);
  }

  /**
   * Verifies held items again, oldest first, until none moves: each that runs may unblock the
   * next. Only an item finishing here can unblock one, so without `recheckAll` this does nothing
   * until one has, and then verifies only held items whose `after` items have all finished.
   * `recheckAll` verifies every held item once, which refuses those past their deadline or
   * token expiry as usual.
   */
  async #releaseHeld(options: { recheckAll?: boolean } = {}): Promise<void> {
    if (this.#held.size === 0) return;
    if (!options.recheckAll && this.#finished === this.#finishedAtRelease) return;
    for (let pass = 0, moved = true; moved && this.#running; pass++) {
      moved = false;
      this.#finishedAtRelease = this.#finished;
      const everyItem = options.recheckAll === true && pass === 0;
      const waiting = [...this.#held.values()].sort((a, b) => a.claimed.seq - b.claimed.seq);
      for (const held of waiting) {
        if (!this.#running) return;
        if (held.busy || this.#held.get(held.claimed.id) !== held) continue;
        if (!everyItem && !(await this.#afterFinished(held.claims))) continue;
        held.busy = true;
        try {
          await this.#admit(held.claimed, held.trustVersion, held.cursor);
        } finally {
          held.busy = false;
        }
        if (!this.#held.has(held.claimed.id)) {
          moved = true;
          this.#statusSoon();
        }
      }
    }
  }

  async #afterFinished(claims: WorkItemClaims): Promise<boolean> {
    for (const dep of claims.after) if (!(await this.#journal.isFinished(dep))) return false;
    return true;
  }

  async #renewHeld(held: Held): Promise<void> {
    const { claimed } = held;
    let cancel = false;
    try {
      const reply = await this.#client.send("POST", `/items/${claimed.id}/renew`, {
        body: { lease_epoch: claimed.lease_epoch, step: HELD_STEP },
      });
      cancel = (reply.body as { cancel?: unknown } | null)?.cancel === true;
    } catch (error) {
      if (error instanceof ControlPlaneError && error.status === 409) {
        // A newer lease exists (or the item ended): the next claim says what is left to do. Only
        // this hold goes: a rescan may have replaced it with the newer lease's meanwhile.
        if (this.#held.get(claimed.id) === held) this.#held.delete(claimed.id);
        return;
      }
      if (error instanceof ControlPlaneError && error.code === "item_cancelled") cancel = true;
      else this.#fatalOr(error, "renew failed");
    }
    // Being verified again right now: checked before it starts instead.
    if (cancel && held.busy) this.#noteCancel(claimed.id);
    if (cancel && !held.busy && this.#held.get(claimed.id) === held) {
      held.busy = true;
      this.#held.delete(claimed.id);
      // Its ack and result are retried until answered: not inside the renewal round, where an
      // outage would hold up the renewal of every running item.
      this.#inBackground(this.#cancelHeld(held));
    }
  }

  /** A held item cancelled before it could run: reported `cancelled`, never executed. */
  async #cancelHeld(held: Held): Promise<void> {
    const entry = await this.#accept(held.claims, held.claimed.token);
    if (entry) await this.#finishCancelled(entry);
  }

  /** Why an accepted item must not start any more: its deadline passed, or a newer generation ran. */
  async #tooLateToStart(item: WorkItemClaims): Promise<"deadline" | "superseded" | undefined> {
    if (this.#client.now() / 1000 - CLOCK_SKEW_TOLERANCE_S > item.start_by) return "deadline";
    const applied = await this.#journal.appliedGeneration(item.resource.uid);
    if (applied !== undefined && item.gen <= applied) return "superseded";
    return undefined;
  }

  /**
   * An accepted item found too late at resume: its acceptance is replaced by a refusal (the
   * control plane ends it `expired` or `superseded`, with what it was for), and the journal keeps
   * it as done so it is never run or reported again. Not answered: it is tried at the next start.
   */
  async #refuseUnstarted(entry: JournalEntry, reason: "deadline" | "superseded"): Promise<void> {
    this.#log.info("work item not run", { itemId: entry.itemId, reason });
    try {
      await this.#retrying(() =>
        this.#client.send("POST", `/items/${entry.itemId}/ack`, {
          body: { status: "rejected", lease_epoch: entry.leaseEpoch, reason },
        }),
      );
    } catch (error) {
      if (!(error instanceof ControlPlaneError) || error.transient) return;
      // 409 stale_epoch: a newer lease exists, and that one decides.
    }
    this.#journal.done(entry.idem, {
      lease_epoch: entry.leaseEpoch,
      attempt: entry.attempt,
      outcome: "cancelled",
      error: { code: reason, retryable: false },
    });
    this.#journal.resultSent(entry.idem);
    this.#finished++;
  }

  /** A journaled item that will not run: its `cancelled` result is journaled, then reported. */
  async #finishCancelled(entry: JournalEntry): Promise<void> {
    this.#journal.done(entry.idem, {
      lease_epoch: entry.leaseEpoch,
      attempt: entry.attempt,
      outcome: "cancelled",
    });
    this.#finished++;
    this.#log.info("work item done", { itemId: entry.itemId, outcome: "cancelled" });
    this.#statusSoon();
    const done = this.#journal.entry(entry.idem);
    if (done) this.#deliver(done);
  }

  async #rejected(
    claimed: ClaimedItem,
    reason: RejectionReason,
    retry: boolean,
    security: boolean,
  ): Promise<void> {
    (security ? this.#log.error : this.#log.info)(
      security ? "security: work item rejected" : "work item not run",
      { itemId: claimed.id, reason },
    );
    if (retry) {
      this.#cursor = Math.min(this.#cursor, claimed.seq - 1);
      this.#retryLater = true;
    }
    try {
      await this.#retrying(() =>
        this.#client.send("POST", `/items/${claimed.id}/ack`, {
          body: { status: "rejected", lease_epoch: claimed.lease_epoch, reason },
        }),
      );
    } catch (error) {
      this.#log.warn("rejection ack failed", { itemId: claimed.id, error: String(error) });
    }
    if (reason === "already_done") {
      // The signature was verified before this check, so the payload is the CP's.
      const idem = String(decodeJwt(claimed.token).idem ?? "");
      const entry = this.#journal.entry(idem);
      if (entry?.result) {
        this.#journal.rebind(
          idem,
          claimed.lease_epoch,
          Number(decodeJwt(claimed.token).attempt ?? 1),
        );
        const rebound = this.#journal.entry(idem);
        if (rebound) this.#deliver(rebound);
      }
    }
  }

  async #execute(entry: JournalEntry, item: WorkItemClaims): Promise<void> {
    const handler = this.#executor.handler(item.op, item.op_v);
    const abort = new AbortController();
    const handle: Handle = {
      itemId: entry.itemId,
      idem: entry.idem,
      leaseEpoch: entry.leaseEpoch,
      abort,
    };
    this.#inFlight.set(entry.itemId, handle);
    const timeout = setTimeout(() => abort.abort("timeout"), item.timeout_s * 1000);
    // The claim loop, whose long poll carries cancellations, waits for this item: listen beside it.
    const watching = new AbortController();
    this.#wakeup?.watchCancel(entry.itemId, watching.signal);
    const runId = randomUUID().slice(0, 8);
    const progress = new ProgressOutbox(
      (events, range) =>
        this.#client
          .send("POST", `/items/${entry.itemId}/events`, {
            body: { lease_epoch: handle.leaseEpoch, events },
            // Per run: a resumed item runs again under the same lease, from line 0.
            idempotencyKey: `${entry.itemId}:${handle.leaseEpoch}:events:${runId}:${range}`,
          })
          .catch((error: unknown) => {
            // Refused for good (a newer lease, a line the CP will not take): sending it again
            // would hold up every later line, so it is dropped.
            if (error instanceof ControlPlaneError && !error.transient && error.status !== 401) {
              this.#log.warn("progress refused; dropped", { range, error: String(error) });
              return;
            }
            throw error;
          }),
      (error) => this.#log.warn("progress not delivered", { error: String(error) }),
    );
    let outcome: ExecutionOutcome;
    this.#journal.running(entry.idem);
    this.#log.info("executing work item", {
      itemId: entry.itemId,
      op: item.op,
      epoch: entry.leaseEpoch,
    });
    try {
      outcome = handler
        ? await handler.run({
            item,
            signal: abort.signal,
            progress: (message, data) => progress.push(message, data),
          })
        : { outcome: "failed", error: { code: "unsupported_op", retryable: false } };
    } catch (error) {
      outcome = {
        outcome: "failed",
        error: { code: "executor_error", message: String(error).slice(0, 500), retryable: true },
      };
    } finally {
      clearTimeout(timeout);
      watching.abort();
      this.#inFlight.delete(entry.itemId);
    }
    if (abort.signal.reason === "timeout" && outcome.outcome !== "succeeded") {
      const { observed } = outcome;
      outcome = {
        outcome: "failed",
        error: { code: "timeout", retryable: true },
        ...(observed ? { observed } : {}),
      };
    }
    const body: Record<string, unknown> = {
      lease_epoch: handle.leaseEpoch,
      attempt: entry.attempt,
      ...outcome,
    };
    // Durable first: the last progress lines go out over the network, and may take a while.
    this.#journal.done(entry.idem, body);
    this.#finished++;
    this.#log.info("work item done", { itemId: entry.itemId, outcome: outcome.outcome });
    await progress.close();
    this.#statusSoon();
    const done = this.#journal.entry(entry.idem);
    if (done) this.#deliver(done);
  }

  /**
   * Sends a journaled result beside the loops: one the control plane keeps refusing (5xx) is
   * retried on its own and holds up neither claims nor other results.
   */
  #deliver(entry: JournalEntry): void {
    this.#inBackground(this.#sendResult(entry));
  }

  /** Retried until acknowledged (design §2.11), except when the CP says the handle is stale. */
  async #sendResult(entry: JournalEntry): Promise<void> {
    if (!entry.result) return;
    const body = { ...entry.result, lease_epoch: entry.leaseEpoch, attempt: entry.attempt };
    // Rebound to a newer lease (`already_done`) meanwhile: that lease's delivery sends it now.
    const current = () => this.#journal.entry(entry.idem)?.leaseEpoch === entry.leaseEpoch;
    try {
      await this.#retrying(
        () =>
          this.#client.send("POST", `/items/${entry.itemId}/result`, {
            body,
            idempotencyKey: `${entry.itemId}:${entry.leaseEpoch}:result`,
          }),
        current,
      );
      this.#journal.resultSent(entry.idem);
      this.#log.info("result delivered", { itemId: entry.itemId, outcome: entry.result.outcome });
    } catch (error) {
      // stale_epoch: a newer claim will re-deliver the item; `already_done` re-sends this result.
      this.#log.warn("result not accepted", { itemId: entry.itemId, error: String(error) });
    }
  }

  /** One renewal round at a time; a call during a round asks for one more after it. */
  #renewSoon(): Promise<void> {
    if (this.#renewing) {
      this.#renewAgain = true;
      return this.#renewing;
    }
    const rounds = async () => {
      do {
        this.#renewAgain = false;
        await this.#renewAll().catch((e) => this.#fatalOr(e, "renew failed"));
      } while (this.#renewAgain && this.#running);
    };
    this.#renewing = rounds().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewAll(): Promise<void> {
    // Running items first: their leases matter most, and held ones may be many.
    for (const handle of [...this.#inFlight.values()]) await this.#renewRunning(handle);
    for (const held of [...this.#held.values()]) await this.#renewHeld(held);
  }

  /**
   * The item named by a doorbell `cancel`: renewed if this agent holds or runs it, else noted, as
   * it may be between a claim and its start (checked there).
   */
  async #renewOne(itemId: string): Promise<void> {
    const held = this.#held.get(itemId);
    const handle = this.#inFlight.get(itemId);
    if (held && !held.busy) await this.#renewHeld(held);
    else if (handle) await this.#renewRunning(handle);
    else this.#noteCancel(itemId);
  }

  #noteCancel(itemId: string): void {
    this.#cancelHeard.add(itemId);
    // Ids of items that never come here (another agent's, or already done) must not pile up.
    if (this.#cancelHeard.size > MAX_CANCELS_HEARD) {
      const oldest = this.#cancelHeard.values().next().value;
      if (oldest !== undefined) this.#cancelHeard.delete(oldest);
    }
  }

  async #renewRunning(handle: Handle): Promise<void> {
    try {
      const reply = await this.#client.send("POST", `/items/${handle.itemId}/renew`, {
        body: { lease_epoch: handle.leaseEpoch },
      });
      if ((reply.body as { cancel?: unknown } | null)?.cancel === true) {
        handle.abort.abort("cancel");
      }
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === "item_cancelled") {
        handle.abort.abort("cancel");
      } else {
        this.#fatalOr(error, "renew failed");
      }
    }
  }

  /** Retries transient failures with full-jitter backoff, honouring Retry-After (≤ 60 s). */
  async #retrying<T>(fn: () => Promise<T>, stillWanted: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const transient =
          !(error instanceof ControlPlaneError) || error.transient || error.status === 401;
        if (!transient || !this.#running || !stillWanted()) throw error;
        const wait =
          error instanceof ControlPlaneError && error.retryAfterMs !== undefined
            ? Math.min(error.retryAfterMs, 60_000)
            : backoffMs(attempt);
        await this.#sleep(wait);
      }
    }
  }
}
