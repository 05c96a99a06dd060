import { fileURLToPath } from "node:url";

/** The simulator's launcher (agent/bin/cloud-hypervisor-sim), a drop-in `cloud-hypervisor`. */
export const SIMULATOR_BIN = fileURLToPath(
  new URL("../../bin/cloud-hypervisor-sim", import.meta.url),
);

export type BinaryFacts = {
  /** `CLOUD_HYPERVISOR_BIN`, as read by the entry point. */
  configured?: string | undefined;
  /** A `cloud-hypervisor` found on this host (e.g. on PATH), if any. */
  installed?: string | undefined;
  /** `/dev/kvm` exists and is usable. */
  kvm: boolean;
};

/**
 * Which VMM binary to run: the configured one wins; otherwise a real `cloud-hypervisor` when the
 * host has one and KVM; otherwise the simulator (development, CI). Entry points gather the facts.
 */
export function chooseHypervisorBinary(facts: BinaryFacts): { binary: string; simulated: boolean } {
  if (facts.configured) return { binary: facts.configured, simulated: false };
  if (facts.installed && facts.kvm) return { binary: facts.installed, simulated: false };
  return { binary: SIMULATOR_BIN, simulated: true };
}
