import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

/** The subset of an OpenAPI 3.0 schema object the simulator's deserializer understands. */
export type Schema = {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
};

export type Schemas = Record<string, Schema>;

const YAML_URL = new URL("./cloud-hypervisor.yaml", import.meta.url);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Loads `components.schemas` from the vendored upstream document and applies the places where the
 * notes (§e "Where the YAML disagrees with the code") say the Rust code accepts more.
 */
export function loadSchemas(): Schemas {
  const text = readFileSync(YAML_URL, "utf8");
  // Parsing the 50 kB YAML costs a simulator start ~60 ms, where a real VMM starts in ~10 ms; the
  // parsed document is cached under the system temp directory, keyed by the YAML's hash.
  const digest = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const cache = join(tmpdir(), `strato-ch-sim-openapi-${process.getuid?.() ?? "u"}-${digest}.json`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(cache, "utf8"));
  } catch {
    doc = parse(text);
    const tmp = `${cache}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(doc));
      renameSync(tmp, cache);
    } catch {
      // A read-only temp directory only costs the next start the parse again.
    }
  }
  const components = isRecord(doc) ? doc.components : undefined;
  const schemas = isRecord(components) ? components.schemas : undefined;
  if (!isRecord(schemas)) throw new Error("cloud-hypervisor.yaml has no components.schemas");
  const out: Schemas = {};
  for (const [name, schema] of Object.entries(schemas)) out[name] = schema as Schema;
  return applyCodeWins(out);
}

function applyCodeWins(schemas: Schemas): Schemas {
  const vmConfig = schemas.VmConfig;
  // `payload` is not required at create time; boot fails later instead (notes §c).
  if (vmConfig) vmConfig.required = (vmConfig.required ?? []).filter((f) => f !== "payload");
  const imageType = schemas.ImageType;
  if (imageType?.enum && !imageType.enum.includes("FlatVmdk")) imageType.enum.push("FlatVmdk");
  const cpus = schemas.CpusConfig;
  if (cpus?.properties) cpus.properties.profile = { type: "string" };
  const disk = schemas.DiskConfig;
  if (disk?.properties) {
    disk.properties.disable_io_uring = { type: "boolean" };
    disk.properties.disable_aio = { type: "boolean" };
  }
  const send = schemas.SendMigrationData;
  if (send?.properties) send.properties.preserve_source = { type: "boolean" };
  return schemas;
}
