import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CloudHypervisorApi } from "../../agent/src/hypervisor/cloud-hypervisor/api";
import { CloudHypervisorDriver } from "../../agent/src/hypervisor/cloud-hypervisor/driver";
import { SIM_BIN, simSandbox, vmSpec } from "./support";

/**
 * Validates what the driver sends against the upstream OpenAPI document with ajv, independently
 * of the simulator's own deserializer: the simulator only records the requests (CH_SIM_LOG).
 */
const YAML_PATH = resolve(
  import.meta.dirname,
  "../../agent/src/hypervisor/simulator/cloud-hypervisor.yaml",
);

type OpenApi = {
  paths: Record<
    string,
    Record<string, { requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>
  >;
  components: { schemas: Record<string, unknown> };
};

/** OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a null type, refs stay inside the doc. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "nullable" || k === "deprecated" || k === "example") continue;
    out[k] = toJsonSchema(v);
  }
  if ((node as { nullable?: unknown }).nullable === true && typeof out.type === "string")
    out.type = [out.type, "null"];
  return out;
}

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

function compiler() {
  const doc = parse(readFileSync(YAML_PATH, "utf8")) as OpenApi;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  for (const [name, [min, max]] of Object.entries(INT_RANGES))
    ajv.addFormat(name, { type: "number", validate: (n: number) => n >= min && n <= max });
  ajv.addSchema({ $id: "ch", components: toJsonSchema(doc.components) }, "ch");
  const cache = new Map<string, ValidateFunction>();
  const schema = (name: string): ValidateFunction => {
    let fn = cache.get(name);
    if (!fn) {
      fn = ajv.compile({ $ref: `ch#/components/schemas/${name}` });
      cache.set(name, fn);
    }
    return fn;
  };
  /** The request body schema the YAML declares for a method and path, or null for none. */
  const requestSchema = (method: string, path: string): string | null | undefined => {
    const op = doc.paths[path.replace("/api/v1", "")]?.[method.toLowerCase()];
    if (!op) return undefined;
    const ref = op.requestBody?.content["application/json"]?.schema.$ref;
    return ref ? ref.replace("#/components/schemas/", "") : null;
  };
  return { schema, requestSchema, ajv };
}

type LoggedRequest = { method: string; path: string; body: unknown; status: number | null };

describe("conformance: every request the driver sends matches the upstream OpenAPI document", () => {
  const sandbox = simSandbox("ch-conf-");
  const log = join(sandbox.dataDir, "requests.jsonl");
  const driver = new CloudHypervisorDriver({
    binary: SIM_BIN,
    runRoot: sandbox.runRoot,
    readyTimeoutMs: 15_000,
    env: { CH_SIM_LOG: log, CH_SIM_POWER_BUTTON_DELAY_MS: "20" },
  });
  afterAll(() => driver.close());
  const { schema, requestSchema, ajv } = compiler();

  it("runs the full op sequence and validates the log with ajv", async () => {
    const dir = sandbox.dataDir;
    const infoCheck = schema("VmInfo");
    const countersCheck = schema("VmCounters");
    const pingCheck = schema("VmmPingResponse");

    await driver.create("conf", vmSpec(dir));
    await driver.addDisk("conf", { id: "cold", path: join(dir, "cold.raw"), format: "raw" });
    await driver.boot("conf");
    await driver.counters("conf");
    await driver.addDisk("conf", {
      id: "hot",
      path: join(dir, "hot.qcow2"),
      format: "qcow2",
      backingFiles: true,
    });
    await driver.resizeDisk("conf", "root", 20 * 1024 ** 3);
    await driver.resize("conf", { vcpus: 2, memoryBytes: 2 * 1024 ** 3 });
    await driver.removeDevice("conf", "hot");
    await driver.pause("conf");
    await driver.snapshot("conf", join(dir, "snap"));
    await driver.resume("conf");
    await driver.reboot("conf");

    // The simulator's answers match the upstream response schemas too.
    const api = new CloudHypervisorApi(join(sandbox.runRoot, "conf", "api.sock"));
    const rawInfo = await api.call("GET", "vm.info");
    expect(infoCheck(JSON.parse(rawInfo.text)), ajv.errorsText(infoCheck.errors)).toBe(true);
    const rawCounters = await api.call("GET", "vm.counters");
    expect(countersCheck(JSON.parse(rawCounters.text)), ajv.errorsText(countersCheck.errors)).toBe(
      true,
    );
    const rawPing = await api.call("GET", "vmm.ping");
    expect(pingCheck(JSON.parse(rawPing.text)), ajv.errorsText(pingCheck.errors)).toBe(true);
    await api.close();

    expect((await driver.shutdown("conf", { timeoutMs: 5_000 })).method).toBe("graceful");
    await driver.boot("conf");
    expect((await driver.shutdown("conf", { graceful: false })).method).toBe("forced");
    await driver.delete("conf");
    await driver.restore("conf-restored", join(dir, "snap"), { resume: true });
    await driver.delete("conf-restored");

    const requests = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as LoggedRequest);
    const problems: string[] = [];
    for (const r of requests) {
      const declared = requestSchema(r.method, r.path);
      if (declared === undefined) problems.push(`${r.method} ${r.path}: not in the YAML`);
      else if (declared === null) {
        if (r.body !== null) problems.push(`${r.method} ${r.path}: body on a bodiless route`);
      } else {
        const check = schema(declared);
        if (!check(r.body)) problems.push(`${r.method} ${r.path}: ${ajv.errorsText(check.errors)}`);
      }
      if (r.status === null || r.status >= 300)
        problems.push(`${r.method} ${r.path}: status ${r.status}`);
    }
    expect(problems).toEqual([]);
    const used = new Set(requests.map((r) => r.path.replace("/api/v1/", "")));
    expect([...used].sort()).toEqual(
      [
        "vm.add-disk",
        "vm.boot",
        "vm.counters",
        "vm.create",
        "vm.info",
        "vm.pause",
        "vm.power-button",
        "vm.reboot",
        "vm.remove-device",
        "vm.resize",
        "vm.resize-disk",
        "vm.restore",
        "vm.resume",
        "vm.shutdown",
        "vm.snapshot",
        "vmm.ping",
        "vmm.shutdown",
      ].sort(),
    );
    // Explicit image types and console modes in every create (notes §c).
    const create = requests.find((r) => r.path.endsWith("vm.create"))?.body as {
      disks: Array<{ image_type?: string }>;
      serial: { mode: string };
      console: { mode: string };
      net: Array<{ tap?: string }>;
    };
    expect(create.disks.every((d) => d.image_type === "Raw")).toBe(true);
    expect([create.serial.mode, create.console.mode]).toEqual(["File", "Off"]);
    expect(create.net[0]?.tap).toBe("tap-test0");
  });

  it("the validator itself rejects bodies CH's schema does not allow", () => {
    const disk = schema("DiskConfig");
    expect(disk({ path: "/x", image_type: "Raw" })).toBe(true);
    expect(disk({ path: "/x", image_type: "raw" })).toBe(false);
    expect(disk({ path: "/x", pci_device_id: 300 })).toBe(false);
    expect(schema("VmConfig")({ cpus: { boot_vcpus: 1 } })).toBe(false);
  });
});
