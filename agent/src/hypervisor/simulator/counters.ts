const U64 = 2n ** 64n;
/** Block latency min/max before the first operation (u64::MAX), and the matching avg (notes §f). */
export const LATENCY_NO_DATA = U64 - 1n;
export const LATENCY_AVG_NO_DATA = 1844674407370955n;

export type DeviceKind = "block" | "net";
type Counters = Map<string, bigint>;

/**
 * Per-device counters of one VM object. They restart whenever the VM object is rebuilt (boot after
 * shutdown, reboot, restore). Guest I/O is simulated deterministically: every `vm.counters` read
 * while running accounts one fixed burst of I/O *after* answering, so the first read after a boot
 * shows the "no data" latencies.
 */
export class DeviceCounters {
  readonly #devices = new Map<string, { kind: DeviceKind; counters: Counters }>();
  readonly #start: bigint;

  constructor(start: bigint) {
    this.#start = start;
  }

  reset(devices: Array<{ id: string; kind: DeviceKind }>): void {
    this.#devices.clear();
    for (const d of devices) this.add(d.id, d.kind);
  }

  add(id: string, kind: DeviceKind): void {
    const s = this.#start;
    const counters: Counters =
      kind === "block"
        ? new Map([
            ["read_bytes", s],
            ["write_bytes", s],
            ["read_ops", 0n],
            ["write_ops", 0n],
            ["read_latency_min", LATENCY_NO_DATA],
            ["read_latency_max", LATENCY_NO_DATA],
            ["read_latency_avg", LATENCY_AVG_NO_DATA],
            ["write_latency_min", LATENCY_NO_DATA],
            ["write_latency_max", LATENCY_NO_DATA],
            ["write_latency_avg", LATENCY_AVG_NO_DATA],
          ])
        : new Map([
            ["rx_bytes", s],
            ["rx_frames", 0n],
            ["tx_bytes", s],
            ["tx_frames", 0n],
          ]);
    this.#devices.set(id, { kind, counters });
  }

  remove(id: string): void {
    this.#devices.delete(id);
  }

  /** One burst of guest I/O on every device. */
  tick(): void {
    for (const { kind, counters } of this.#devices.values()) {
      const bump = (name: string, by: bigint) =>
        counters.set(name, ((counters.get(name) ?? 0n) + by) % U64);
      if (kind === "block") {
        bump("read_bytes", 65536n);
        bump("read_ops", 16n);
        bump("write_bytes", 16384n);
        bump("write_ops", 4n);
        for (const dir of ["read", "write"]) {
          counters.set(`${dir}_latency_min`, 35n);
          counters.set(`${dir}_latency_max`, 420n);
          counters.set(`${dir}_latency_avg`, 97n);
        }
      } else {
        bump("rx_bytes", 12000n);
        bump("rx_frames", 10n);
        bump("tx_bytes", 3000n);
        bump("tx_frames", 5n);
      }
    }
  }

  /** Serialized like serde_json: raw integers, even above 2^53. */
  toJson(): string {
    const devices = [...this.#devices.entries()].map(([id, { counters }]) => {
      const fields = [...counters.entries()].map(([k, v]) => `${JSON.stringify(k)}:${v}`);
      return `${JSON.stringify(id)}:{${fields.join(",")}}`;
    });
    return `{${devices.join(",")}}`;
  }
}
