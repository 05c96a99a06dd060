import type { WorkItemPageProps } from "../../../templates/pages/hosts/work-item";
import {
  type HostWorkItemLog,
  WORK_LOG_LIMIT,
  type WorkLogEvent,
} from "../../domain/hosts/work-item-log";
import { TERMINAL } from "../../domain/work/load-item";
import { formatTime } from "../console";

const text = (value: unknown): string =>
  typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);

/** One line of the log as people read it; the API has the structured detail. */
function eventText(e: WorkLogEvent): string {
  const d = e.detail;
  switch (e.kind) {
    case "enqueued":
      return "queued for the host";
    case "claimed":
      return `sent to the host (attempt ${text(d.attempt)}, signed by ${text(d.kid)})`;
    case "accepted":
      return "verified and journaled by the host";
    case "renewed":
      return d.step === undefined ? "lease renewed" : `lease renewed (${text(d.step)})`;
    case "progress":
    case "log":
      return d.data === undefined ? text(d.message) : `${text(d.message)} ${text(d.data)}`;
    case "result": {
      const error = d.error as { code?: unknown; message?: unknown } | undefined;
      if (error) return `${text(d.outcome)}: ${text(error.code)} ${text(error.message)}`.trim();
      return d.output === undefined ? text(d.outcome) : `${text(d.outcome)} ${text(d.output)}`;
    }
    case "rejected":
    case "security":
      return `refused by the host: ${text(d.reason)}`;
    case "cancel_requested":
      return "cancellation requested";
    case "expired":
      return d.reason === undefined ? "its time ran out" : text(d.reason);
  }
}

/** The work item page's data, as display text. */
export function workItemPageProps(
  log: HostWorkItemLog,
  host: { id: string; name: string },
  canOperate: boolean,
  csrfToken: string,
): WorkItemPageProps {
  const error = (log.result?.error ?? null) as { code?: unknown; message?: unknown } | null;
  const facts: [string, string][] = [
    ["State", log.cancelRequested ? `${log.state} (cancelling)` : log.state],
    ["Outcome", log.outcome ?? "—"],
    ["Resource", `${log.resourceKind} ${log.resourceId}`],
    ["Sequence", String(log.seq)],
    ["Attempts", String(log.attempt)],
    ["Lease epoch", String(log.leaseEpoch)],
    ["Created", `${formatTime(log.createdAt)} by ${log.createdBy}`],
    ["Start by", formatTime(log.startBy)],
    ["Time limit", `${log.timeoutS} s`],
    ["Finished", log.finishedAt === null ? "—" : formatTime(log.finishedAt)],
  ];
  if (log.rejectReason) facts.push(["Refused because", log.rejectReason]);
  if (error) facts.push(["Error", `${text(error.code)} ${text(error.message)}`.trim()]);
  if (log.late) facts.push(["Late result", "the host reported after the item had ended"]);
  return {
    host,
    item: {
      id: log.id,
      op: log.op,
      resource: `${log.resourceKind} ${log.resourceId}`,
      state: log.state,
      facts: facts.map(([term, value]) => ({ term, value })),
      cancellable: canOperate && !TERMINAL.has(log.state),
    },
    events: log.events.map((e) => ({
      at: formatTime(e.at),
      kind: e.kind,
      epoch: e.leaseEpoch === null ? "—" : String(e.leaseEpoch),
      text: eventText(e).slice(0, 2000),
    })),
    truncated: log.events.length >= WORK_LOG_LIMIT,
    csrfToken,
  };
}
