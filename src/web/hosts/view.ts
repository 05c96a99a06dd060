import type { HostRow, HostsPageProps } from "../../../templates/pages/hosts/list";
import type { EnrollmentTokenRow, TokensPanelProps } from "../../../templates/pages/hosts/tokens";
import type { EnrollmentTokenView } from "../../domain/hosts/create-enrollment-token";
import { listEnrollmentTokens } from "../../domain/hosts/list-enrollment-tokens";
import { listHosts } from "../../domain/hosts/list-hosts";
import { getOrganization } from "../../domain/orgs/get-organization";
import { orgRef } from "../../domain/orgs/shared";
import { hostCandidates } from "../../domain/vms/placement";
import { authorize, serviceContext } from "../../http/auth";
import type { Ctx } from "../../http/env";
import { formatTime } from "../console";
import { permissionsOn } from "../orgs/can";

/** The token form's state and, right after creation, the secret to show once. */
export type TokenForm = Pick<TokensPanelProps, "state" | "created">;

function tokenStatus(t: EnrollmentTokenView, now: number): string {
  if (t.revokedAt !== null) return "revoked";
  if (t.expiresAt <= now) return "expired";
  if (t.uses >= t.maxUses) return "used up";
  return "active";
}

/**
 * Everything the hosts page shows: 404 for those who may not see the organization, hosts for
 * those who may view them, tokens (and approve buttons) only for those who may manage hosts.
 */
export async function hostsPageProps(
  c: Ctx,
  orgId: string,
  csrfToken: string,
  tokenForm: TokenForm,
): Promise<HostsPageProps> {
  const { deps } = c.var;
  const org = await getOrganization(serviceContext(c), orgId);
  await authorize(c, orgRef(orgId), "view_hosts");
  const can = await permissionsOn(c, orgRef(orgId), ["manage_hosts"] as const);
  // Capacity and usage exactly as placement sees them.
  const [hosts, candidates, tokens] = await Promise.all([
    listHosts(deps, orgId),
    hostCandidates(deps, orgId),
    can.manage_hosts ? listEnrollmentTokens(deps, orgId) : Promise.resolve([]),
  ]);
  const capacity = new Map(candidates.map((h) => [h.id, h]));
  const rows: HostRow[] = [];
  for (const h of hosts) {
    const cand = capacity.get(h.id);
    const hostname = typeof h.facts.hostname === "string" ? h.facts.hostname : h.name;
    rows.push({
      id: h.id,
      name: h.name,
      hostname,
      state: h.state,
      health: h.health,
      maintenance: h.maintenance,
      capacity: {
        vcpus: { used: cand?.used.vcpus ?? 0, total: cand?.capacity.vcpus ?? 0 },
        memoryMb: { used: cand?.used.memoryMb ?? 0, total: cand?.capacity.memoryMb ?? 0 },
      },
      lastSeen: formatTime(h.lastSeenAt),
      canApprove:
        h.state === "pending" &&
        (await permissionsOn(c, { type: "host", id: h.id }, ["approve"] as const)).approve,
    });
  }
  // Pending hosts wait for a decision: list them first (otherwise newest first, as listed).
  rows.sort((a, b) => Number(b.state === "pending") - Number(a.state === "pending"));
  const now = deps.clock.now();
  return {
    org: { id: org.id, name: org.name },
    hosts: rows,
    csrfToken,
    tokens: can.manage_hosts
      ? {
          ...tokenForm,
          tokens: tokens.map(
            (t): EnrollmentTokenRow => ({
              id: t.id,
              description: t.description,
              prefix: t.prefix,
              uses: t.uses,
              maxUses: t.maxUses,
              expiresAt: formatTime(t.expiresAt),
              status: tokenStatus(t, now),
            }),
          ),
        }
      : undefined,
  };
}

const GIB = 1024 ** 3;
const GB = 1000 ** 3;

/** The facts an agent reported at enrollment, as labelled text ("—" for what it left out). */
export function factRows(facts: Record<string, unknown>): { term: string; value: string }[] {
  const text = (key: string) => {
    const v = facts[key];
    return typeof v === "string" || typeof v === "number" ? String(v) : "—";
  };
  const size = (key: string, unit: number, label: string) => {
    const v = facts[key];
    return typeof v === "number" ? `${Math.round((v / unit) * 10) / 10} ${label}` : "—";
  };
  const kvm = facts.kvm;
  return [
    { term: "Hostname", value: text("hostname") },
    { term: "Machine id", value: text("machine_id") },
    { term: "CPUs", value: text("cpus") },
    { term: "Memory", value: size("memory_bytes", GIB, "GiB") },
    { term: "Disk", value: size("disk_bytes", GB, "GB") },
    { term: "Architecture", value: text("arch") },
    { term: "Kernel", value: text("kernel") },
    { term: "KVM", value: typeof kvm === "boolean" ? (kvm ? "available" : "missing") : "—" },
    { term: "Cloud Hypervisor", value: text("ch_version") },
    { term: "Agent", value: text("agent_version") },
  ];
}
