import { CommandError, CommandNotFoundError, type Exec } from "./exec";

/** The host tools the agent's host resources run, with the Debian package that brings each. */
export const HOST_TOOLS = {
  "qemu-img": { package: "qemu-utils", neededFor: "per-VM disks", probe: ["--version"] },
  "mkfs.vfat": { package: "dosfstools", neededFor: "cloud-init seed", probe: ["--help"] },
  mcopy: { package: "mtools", neededFor: "cloud-init seed", probe: ["-V"] },
  ip: { package: "iproute2", neededFor: "VM networking (TAP devices)", probe: ["-V"] },
} as const satisfies Record<string, { package: string; neededFor: string; probe: string[] }>;

export type HostTool = keyof typeof HOST_TOOLS;

export type HostToolFact =
  | { tool: HostTool; status: "ok"; version?: string }
  | {
      tool: HostTool;
      status: "missing" | "broken";
      package: string;
      neededFor: string;
      detail: string;
    };

/** A health warning for the control plane: stable code plus a sentence for people. */
export type HostToolWarning = {
  code: "host_tool_missing" | "host_tool_broken";
  tool: HostTool;
  message: string;
};

export type HostToolReport = {
  tools: HostToolFact[];
  missing: HostTool[];
  warnings: HostToolWarning[];
};

/**
 * Probes every host tool once. Never throws: a missing or broken tool becomes a fact and a
 * warning, so the agent still starts and reports what this host cannot do.
 */
export async function checkHostTools(
  exec: Exec,
  options: { timeoutMs?: number } = {},
): Promise<HostToolReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const names = Object.keys(HOST_TOOLS) as HostTool[];
  const tools = await Promise.all(names.map((tool) => probe(exec, tool, timeoutMs)));
  const warnings: HostToolWarning[] = [];
  for (const fact of tools) {
    if (fact.status === "ok") continue;
    warnings.push({
      code: fact.status === "missing" ? "host_tool_missing" : "host_tool_broken",
      tool: fact.tool,
      message: `${fact.tool} is ${fact.status} (${fact.detail}); ${fact.neededFor} will fail. Install Debian package ${fact.package}.`,
    });
  }
  return {
    tools,
    missing: tools.filter((t) => t.status === "missing").map((t) => t.tool),
    warnings,
  };
}

async function probe(exec: Exec, tool: HostTool, timeoutMs: number): Promise<HostToolFact> {
  const { package: pkg, neededFor, probe: args } = HOST_TOOLS[tool];
  try {
    const { stdout, stderr } = await exec(tool, args, { timeoutMs });
    const version = firstVersionLine(`${stdout}\n${stderr}`);
    return version !== undefined ? { tool, status: "ok", version } : { tool, status: "ok" };
  } catch (error) {
    const status = error instanceof CommandNotFoundError ? "missing" : "broken";
    const detail =
      error instanceof CommandNotFoundError
        ? "not found on PATH"
        : error instanceof CommandError
          ? error.message
          : String(error);
    return { tool, status, package: pkg, neededFor, detail };
  }
}

function firstVersionLine(text: string): string | undefined {
  return text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /\d+\.\d+/.test(l) && l.length < 200);
}
