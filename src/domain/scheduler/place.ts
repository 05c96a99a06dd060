/**
 * VM placement: which host of the organization gets a new VM. Pure, so the same rules serve the
 * create call, the placement preview of the console and the tests. Reservation happens in the
 * caller's batch, which checks the totals again (src/domain/vms/capacity-guard.ts), so two
 * concurrent creates cannot overbook.
 */

export type Strategy = "spread" | "binpack";

export type Resources = { vcpus: number; memoryMb: number; diskGb: number };

export type HostCandidate = {
  id: string;
  /** Only approved, healthy, out-of-maintenance hosts take new VMs. */
  eligible: boolean;
  capacity: Resources;
  used: Resources;
};

export type PlacementPolicy = {
  strategy: Strategy;
  /** vCPUs per physical CPU (e.g. 4 means a 16-core host takes 64 vCPUs). */
  cpuOvercommit: number;
  /** Guest memory per byte of host memory; 1 means none. */
  memoryOvercommit: number;
};

/** Why nothing fits: no usable host at all, or the resource that ran out everywhere. */
export type NoCapacityScope = "no_host" | "cpu" | "memory" | "disk";

export type Placement =
  | { ok: true; hostId: string }
  | { ok: false; scope: NoCapacityScope; detail: string };

type Fit = { host: HostCandidate; load: number };

/** What a host may hold in all: its capacity with the overcommit ratios applied. */
export function hostAllowance(host: HostCandidate, policy: PlacementPolicy): Resources {
  return {
    vcpus: Math.floor(host.capacity.vcpus * policy.cpuOvercommit),
    memoryMb: Math.floor(host.capacity.memoryMb * policy.memoryOvercommit),
    diskGb: host.capacity.diskGb,
  };
}

/** The first resource the request does not fit in on this host, if any. */
function shortage(
  host: HostCandidate,
  want: Resources,
  policy: PlacementPolicy,
): NoCapacityScope | null {
  const max = hostAllowance(host, policy);
  if (host.used.vcpus + want.vcpus > max.vcpus) return "cpu";
  if (host.used.memoryMb + want.memoryMb > max.memoryMb) return "memory";
  if (host.used.diskGb + want.diskGb > max.diskGb) return "disk";
  return null;
}

/** Share of the host in use after placing the VM: the most loaded of its three resources. */
function loadAfter(host: HostCandidate, want: Resources, policy: PlacementPolicy): number {
  const max = hostAllowance(host, policy);
  return Math.max(
    (host.used.vcpus + want.vcpus) / Math.max(1, max.vcpus),
    (host.used.memoryMb + want.memoryMb) / Math.max(1, max.memoryMb),
    (host.used.diskGb + want.diskGb) / Math.max(1, max.diskGb),
  );
}

/**
 * `spread` (default) puts the VM on the least loaded host that fits; `binpack` on the most loaded
 * one, keeping others empty. Ties go to the smaller host id, so placement is deterministic.
 */
export function placeVm(
  hosts: readonly HostCandidate[],
  want: Resources,
  policy: PlacementPolicy,
): Placement {
  const eligible = hosts.filter((h) => h.eligible);
  if (eligible.length === 0) {
    return {
      ok: false,
      scope: "no_host",
      detail: "No approved, healthy host outside maintenance in this organization.",
    };
  }
  const fits: Fit[] = [];
  const short = new Map<NoCapacityScope, number>();
  for (const host of eligible) {
    const missing = shortage(host, want, policy);
    if (missing === null) fits.push({ host, load: loadAfter(host, want, policy) });
    else short.set(missing, (short.get(missing) ?? 0) + 1);
  }
  if (fits.length === 0) {
    // Report the resource most hosts ran out of: that is what the person should change.
    const [scope] = [...short.entries()].sort((a, b) => b[1] - a[1])[0] ?? ["cpu", 0];
    const what = { cpu: "vCPUs", memory: "memory", disk: "disk space", no_host: "hosts" }[scope];
    return { ok: false, scope, detail: `No host has enough free ${what} for this VM.` };
  }
  fits.sort((a, b) => {
    const byLoad = policy.strategy === "spread" ? a.load - b.load : b.load - a.load;
    return byLoad !== 0 ? byLoad : a.host.id.localeCompare(b.host.id);
  });
  const [best] = fits;
  if (!best) throw new Error("unreachable: fits is not empty");
  return { ok: true, hostId: best.host.id };
}
