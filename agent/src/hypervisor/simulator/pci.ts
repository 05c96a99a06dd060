/** Device numbers on PCI segment 0, bus 0. Slot 0 is the host bridge. */
const SLOTS = 32;

export type Allocation = { ok: true; bdf: string } | { ok: false; message: string };

export function formatBdf(slot: number): string {
  return `0000:00:${slot.toString(16).padStart(2, "0")}.0`;
}

/** Allocates the lowest free slot, so a removed and re-added device gets its old BDF back. */
export class PciBus {
  readonly #slots = new Map<number, string>();

  allocate(id: string, requested?: number): Allocation {
    if (requested !== undefined) {
      if (requested <= 0 || requested >= SLOTS)
        return {
          ok: false,
          message: `Given PCI device ID (${requested}) is out of the supported range of 0..${SLOTS}`,
        };
      if (this.#slots.has(requested))
        return { ok: false, message: `Valid PCI device identifier but already used: ${requested}` };
      this.#slots.set(requested, id);
      return { ok: true, bdf: formatBdf(requested) };
    }
    for (let slot = 1; slot < SLOTS; slot++) {
      if (!this.#slots.has(slot)) {
        this.#slots.set(slot, id);
        return { ok: true, bdf: formatBdf(slot) };
      }
    }
    return { ok: false, message: "No more PCI device identifiers available" };
  }

  free(id: string): string | undefined {
    for (const [slot, owner] of this.#slots) {
      if (owner === id) {
        this.#slots.delete(slot);
        return formatBdf(slot);
      }
    }
    return undefined;
  }

  has(id: string): boolean {
    return [...this.#slots.values()].includes(id);
  }

  /** `device_tree` entries in the shape of vm.info (`vmm/src/device_tree.rs`). */
  deviceTree(): Record<string, unknown> {
    const tree: Record<string, unknown> = {};
    const sorted = [...this.#slots.entries()].sort((a, b) => a[0] - b[0]);
    for (const [slot, id] of sorted) {
      const base = 0xe800_0000 + slot * 0x8_0000;
      tree[id] = {
        id,
        resources: [
          { PciBar: { index: 0, base, size: 0x8_0000, type_: "Mmio32", prefetchable: false } },
        ],
        parent: null,
        children: [],
        pci_bdf: formatBdf(slot),
      };
    }
    return tree;
  }
}
