import { describe, expect, it } from "vitest";
import {
  type HostCandidate,
  type PlacementPolicy,
  placeVm,
} from "../../src/domain/scheduler/place";

const policy: PlacementPolicy = { strategy: "spread", cpuOvercommit: 4, memoryOvercommit: 1 };

function host(
  id: string,
  used: Partial<HostCandidate["used"]> = {},
  extra: Partial<HostCandidate> = {},
): HostCandidate {
  return {
    id,
    eligible: true,
    capacity: { vcpus: 8, memoryMb: 16_384, diskGb: 200 },
    used: { vcpus: 0, memoryMb: 0, diskGb: 0, ...used },
    ...extra,
  };
}

const small = { vcpus: 2, memoryMb: 2048, diskGb: 20 };

describe("VM placement", () => {
  it("spreads onto the least loaded host and binpacks onto the most loaded", () => {
    const hosts = [
      host("host_a", { vcpus: 16, memoryMb: 8192 }),
      host("host_b", { vcpus: 2, memoryMb: 1024 }),
    ];
    expect(placeVm(hosts, small, policy)).toEqual({ ok: true, hostId: "host_b" });
    expect(placeVm(hosts, small, { ...policy, strategy: "binpack" })).toEqual({
      ok: true,
      hostId: "host_a",
    });
  });

  it("breaks ties by host id, so the same inputs always give the same host", () => {
    expect(placeVm([host("host_b"), host("host_a")], small, policy)).toEqual({
      ok: true,
      hostId: "host_a",
    });
  });

  it("applies the CPU overcommit ratio but never overcommits disk", () => {
    // 8 CPUs × 4 = 32 vCPUs: 30 used + 2 fits, 31 + 2 does not.
    expect(placeVm([host("h", { vcpus: 30 })], small, policy).ok).toBe(true);
    expect(placeVm([host("h", { vcpus: 31 })], small, policy)).toMatchObject({
      ok: false,
      scope: "cpu",
    });
    expect(placeVm([host("h", { diskGb: 190 })], small, policy)).toMatchObject({
      ok: false,
      scope: "disk",
    });
    expect(placeVm([host("h", { memoryMb: 15_000 })], small, policy)).toMatchObject({
      ok: false,
      scope: "memory",
    });
    expect(
      placeVm([host("h", { memoryMb: 15_000 })], small, { ...policy, memoryOvercommit: 1.5 }).ok,
    ).toBe(true);
  });

  it("skips ineligible hosts and says so when none is left", () => {
    expect(placeVm([host("h", {}, { eligible: false })], small, policy)).toMatchObject({
      ok: false,
      scope: "no_host",
    });
    expect(placeVm([], small, policy)).toMatchObject({ ok: false, scope: "no_host" });
    expect(
      placeVm([host("busy", { vcpus: 32 }), host("off", {}, { eligible: false })], small, policy),
    ).toMatchObject({
      ok: false,
      scope: "cpu",
    });
  });

  it("names the resource most hosts ran out of", () => {
    const hosts = [
      host("a", { memoryMb: 16_000 }),
      host("b", { memoryMb: 16_000 }),
      host("c", { vcpus: 32 }),
    ];
    expect(placeVm(hosts, small, policy)).toMatchObject({ ok: false, scope: "memory" });
  });
});
