import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chooseHypervisorBinary, SIMULATOR_BIN } from "../../agent/src/hypervisor/binary";

describe("chooseHypervisorBinary", () => {
  it("prefers the configured binary, then a real one with KVM, then the simulator", () => {
    expect(existsSync(SIMULATOR_BIN)).toBe(true);
    expect(
      chooseHypervisorBinary({ configured: "/opt/ch", installed: "/usr/bin/ch", kvm: true }),
    ).toEqual({
      binary: "/opt/ch",
      simulated: false,
    });
    expect(chooseHypervisorBinary({ installed: "/usr/bin/ch", kvm: true }).binary).toBe(
      "/usr/bin/ch",
    );
    expect(chooseHypervisorBinary({ installed: "/usr/bin/ch", kvm: false })).toEqual({
      binary: SIMULATOR_BIN,
      simulated: true,
    });
    expect(chooseHypervisorBinary({ kvm: true }).simulated).toBe(true);
  });
});
