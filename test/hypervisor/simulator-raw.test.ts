import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  chRemote,
  parseEventFile,
  rawRequest,
  SIM_BIN,
  simSandbox,
  startSim,
  until,
  waitForSocket,
} from "./support";

const CREATE = JSON.stringify({
  cpus: { boot_vcpus: 1, max_vcpus: 1 },
  memory: { size: 268435456 },
  payload: { kernel: "/nonexistent/vmlinux" },
  disks: [{ path: "/nonexistent/root.raw", image_type: "Raw" }],
  serial: { mode: "Null" },
  console: { mode: "Off" },
});

describe("simulator wire quirks (raw socket)", () => {
  const sandbox = simSandbox("ch-sim-raw-");

  it("prints its version like cloud-hypervisor", () => {
    expect(execFileSync(SIM_BIN, ["--version"]).toString()).toMatch(/^cloud-hypervisor v\d+\.\d+/);
  });

  it("answers like micro_http: no reason phrase, fixed headers, 404 for unknown paths", async () => {
    // The bare-path form of --api-socket.
    const socket = join(sandbox.dataDir, "quirks.sock");
    const proc = sandbox.spawn(SIM_BIN, ["--api-socket", socket, "-v"], {});
    await waitForSocket(socket, proc, 10_000);
    const ping = await rawRequest(socket, chRemote("GET", "vmm.ping"));
    expect(ping.statusLine).toBe("HTTP/1.1 200 ");
    expect(ping.headers.server).toBe("Cloud Hypervisor API");
    expect(ping.headers.connection).toBe("keep-alive");
    expect(JSON.parse(ping.body)).toMatchObject({
      version: expect.any(String),
      pid: expect.any(Number),
    });

    for (const path of ["vm.nope", "vm.info/", "vmm.ping/"]) {
      const r = await rawRequest(socket, chRemote("GET", path));
      expect([r.status, JSON.parse(r.body)]).toEqual([404, ["Not Found"]]);
    }
    // vm.coredump only exists in guest_debug builds.
    const coredump = await rawRequest(socket, chRemote("PUT", "vm.coredump", "{}"));
    expect(coredump.status).toBe(404);

    const wrongMethod = await rawRequest(socket, chRemote("GET", "vm.boot"));
    expect([wrongMethod.status, JSON.parse(wrongMethod.body)]).toEqual([400, ["Bad Request"]]);
    const bodyOnBodiless = await rawRequest(socket, chRemote("PUT", "vm.boot", "{}"));
    expect([bodyOnBodiless.status, JSON.parse(bodyOnBodiless.body)]).toEqual([
      400,
      ["Bad Request"],
    ]);
    const patch = await rawRequest(socket, chRemote("PATCH", "vm.boot"));
    expect([patch.status, patch.body]).toEqual([400, ""]);
    const createNoBody = await rawRequest(socket, chRemote("PUT", "vm.create"));
    expect([createNoBody.status, createNoBody.body]).toEqual([400, ""]);
    const post = await rawRequest(socket, chRemote("POST", "vm.boot"));
    expect(post.status).toBe(400);
    expect(JSON.parse(post.body).error).toContain(
      "All previous unanswered requests will be dropped.",
    );
  });

  it("rejects malformed bodies with serde-like messages and 204s without Content-Length", async () => {
    const { socket } = await startSim(sandbox, "serde");
    const badJson = await rawRequest(socket, chRemote("PUT", "vm.create", "{not json"));
    expect(badJson.status).toBe(400);
    const [first, second] = JSON.parse(badJson.body) as string[];
    expect(first).toBe("Failed to deserialize JSON");
    expect(second).toMatch(/at line \d+ column \d+$/);

    const missing = await rawRequest(
      socket,
      chRemote("PUT", "vm.create", '{"cpus":{"boot_vcpus":1}}'),
    );
    expect(JSON.parse(missing.body)).toEqual([
      "Failed to deserialize JSON",
      expect.stringMatching(/^missing field `max_vcpus`/),
    ]);
    const wrongType = await rawRequest(
      socket,
      chRemote("PUT", "vm.create", '{"memory":{"size":"lots"}}'),
    );
    expect(JSON.parse(wrongType.body)[1]).toMatch(/^invalid type: string "lots", expected/);
    const badVariant = await rawRequest(
      socket,
      chRemote("PUT", "vm.create", '{"serial":{"mode":"Telnet"}}'),
    );
    expect(JSON.parse(badVariant.body)[1]).toMatch(/^unknown variant `Telnet`, expected one of/);
    // Unknown keys are ignored (no deny_unknown_fields) and payload is optional at create.
    const created = await rawRequest(socket, chRemote("PUT", "vm.create", '{"memroy":{"size":1}}'));
    expect(created.statusLine).toBe("HTTP/1.1 204 ");
    expect(created.headers["content-length"]).toBeUndefined();
    expect(created.headers["content-type"]).toBeUndefined();
    // ...and boot then fails for want of a payload.
    const boot = await rawRequest(socket, chRemote("PUT", "vm.boot"));
    expect(boot.status).toBe(500);
    expect(JSON.parse(boot.body)).toEqual(
      expect.arrayContaining(["Error from API", "The VM could not boot"]),
    );
  });

  it("returns the notes' error chains", async () => {
    const { socket } = await startSim(sandbox, "chains");
    const ask = async (method: string, endpoint: string, body?: string) => {
      const r = await rawRequest(socket, chRemote(method, endpoint, body));
      return [r.status, r.body ? JSON.parse(r.body) : null];
    };
    expect(await ask("PUT", "vm.boot")).toEqual([
      404,
      ["Error from API", "The VM could not boot", "VM config is missing"],
    ]);
    expect(await ask("GET", "vm.info")).toEqual([
      404,
      ["Error from API", "The VM info is not available", "VM is not created"],
    ]);
    expect(await ask("PUT", "vm.create", CREATE)).toEqual([204, null]);
    expect(await ask("PUT", "vm.create", CREATE)).toEqual([
      500,
      ["Error from API", "The VM could not be created", "VM is already created"],
    ]);
    expect(await ask("PUT", "vm.pause")).toEqual([
      500,
      ["Error from API", "The VM could not be paused", "VM is not running"],
    ]);
    expect(await ask("GET", "vm.counters")).toEqual([
      500,
      ["Error from API", "The VM info is not available", "VM is not running"],
    ]);
    expect(await ask("PUT", "vm.reboot")).toEqual([
      404,
      ["Error from API", "The VM could not reboot", "VM is not created"],
    ]);
    expect(await ask("PUT", "vm.boot")).toEqual([204, null]);
    expect(await ask("PUT", "vm.boot")).toEqual([
      500,
      ["Error from API", "The VM could not boot", "VM is already created"],
    ]);
  });

  it("serializes counters above 2^53 as raw integers", async () => {
    const { socket } = await startSim(sandbox, "counters", {
      env: { CH_SIM_COUNTER_START: "9007199254740993" },
    });
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    await rawRequest(socket, chRemote("PUT", "vm.boot"));
    const first = await rawRequest(socket, chRemote("GET", "vm.counters"));
    expect(first.body).toContain('"read_latency_min":18446744073709551615');
    expect(first.body).toContain('"read_latency_avg":1844674407370955');
    expect(first.body).toContain('"read_bytes":9007199254740993');
    const second = await rawRequest(socket, chRemote("GET", "vm.counters"));
    expect(second.body).toMatch(/"read_bytes":9007199254806529/); // + 65536, exact
  });

  it("serves one request at a time: a slow boot delays ping", async () => {
    const { socket } = await startSim(sandbox, "slow", { env: { CH_SIM_BOOT_DELAY_MS: "600" } });
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    const started = Date.now();
    const boot = rawRequest(socket, chRemote("PUT", "vm.boot"));
    await new Promise((r) => setTimeout(r, 50));
    await rawRequest(socket, chRemote("GET", "vmm.ping"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect((await boot).status).toBe(204);
  });

  it("limits connections to 10 (the 11th gets 503 and is closed)", async () => {
    const { socket } = await startSim(sandbox, "conns");
    const open = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<ReturnType<typeof connect>>((done) => {
            const s = connect(socket, () => done(s));
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const eleventh = await rawRequest(socket, chRemote("GET", "vmm.ping"));
    expect(eleventh.status).toBe(503);
    expect(eleventh.headers.connection).toBe("close");
    expect(JSON.parse(eleventh.body)).toEqual({ error: "Too many open connections" });
    for (const s of open) s.destroy();
  });

  it("writes the event stream and exits on vmm.shutdown with 200, no body, socket removed", async () => {
    const { socket, events, proc } = await startSim(sandbox, "events");
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    await rawRequest(socket, chRemote("PUT", "vm.boot"));
    await rawRequest(socket, chRemote("PUT", "vm.pause"));
    await rawRequest(socket, chRemote("PUT", "vm.resume"));
    const bye = await rawRequest(socket, chRemote("PUT", "vmm.shutdown"));
    expect([bye.status, bye.headers["content-length"], bye.body]).toEqual([200, "0", ""]);
    expect(await proc.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);

    const text = readFileSync(events, "utf8");
    expect(text.startsWith('{\n  "timestamp": {\n    "secs": 0,')).toBe(true);
    expect(text.endsWith("}\n\n")).toBe(true);
    const names = parseEventFile(events).map((e) => `${e.source}/${e.event}`);
    expect(names).toEqual([
      "vmm/starting",
      "vm/booting",
      "vm/booted",
      "virtio-device/activated",
      "vm/pausing",
      "vm/paused",
      "vm/resuming",
      "vm/resumed",
      "virtio-device/reset",
      "vm/shutdown",
      "vm/deleted",
      "vmm/shutdown",
    ]);
    expect(parseEventFile(events)[3]?.properties).toEqual({ id: "_disk0" });
  });

  it("refuses a second instance on a live socket and replaces a stale one after SIGKILL", async () => {
    const first = await startSim(sandbox, "locked");
    const second = sandbox.spawn(SIM_BIN, ["--api-socket", `path=${first.socket}`], {});
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain("already in use by another running instance");

    first.proc.child.kill("SIGKILL");
    await first.proc.exited;
    expect(existsSync(first.socket)).toBe(true); // a crash leaves the socket behind
    const refused = await rawRequest(first.socket, chRemote("GET", "vmm.ping")).catch(
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(refused).toBe("ECONNREFUSED");
    const again = await startSim(sandbox, "locked");
    expect((await rawRequest(again.socket, chRemote("GET", "vmm.ping"))).status).toBe(200);
  });

  it("logs every request to CH_SIM_LOG and maps errors to 500 in v53 mode", async () => {
    const log = join(sandbox.dataDir, "requests.jsonl");
    const { socket } = await startSim(sandbox, "v53", {
      env: { CH_SIM_LOG: log, CH_SIM_V53: "1" },
    });
    const boot = await rawRequest(socket, chRemote("PUT", "vm.boot"));
    expect(boot.status).toBe(404); // 404s stay
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    await rawRequest(socket, chRemote("PUT", "vm.add-disk", '{"id":"__bad","path":"/x"}'));
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { method: "PUT", path: "/api/v1/vm.boot", body: null, status: 404 },
      { method: "PUT", path: "/api/v1/vm.create", body: JSON.parse(CREATE), status: 204 },
      {
        method: "PUT",
        path: "/api/v1/vm.add-disk",
        body: { id: "__bad", path: "/x" },
        status: 500,
      },
    ]);
  });

  it("powers the guest off after N ms: exit 0 by default, Created with --no-shutdown", async () => {
    const env = { CH_SIM_POWEROFF_AFTER_MS: "100" };
    const plain = await startSim(sandbox, "poweroff", { env });
    await rawRequest(plain.socket, chRemote("PUT", "vm.create", CREATE));
    await rawRequest(plain.socket, chRemote("PUT", "vm.boot"));
    expect(await plain.proc.exited).toBe(0);
    expect(existsSync(plain.socket)).toBe(false);
    const tail = parseEventFile(plain.events)
      .slice(-3)
      .map((e) => `${e.source}/${e.event}`);
    expect(tail).toEqual(["vm/shutdown", "vm/deleted", "vmm/shutdown"]);

    const kept = await startSim(sandbox, "poweroff-kept", { env, args: ["--no-shutdown"] });
    await rawRequest(kept.socket, chRemote("PUT", "vm.create", CREATE));
    await rawRequest(kept.socket, chRemote("PUT", "vm.boot"));
    const info = await until(
      "Created after power-off",
      async () => JSON.parse((await rawRequest(kept.socket, chRemote("GET", "vm.info"))).body),
      (v: { state: string; device_tree?: unknown }) => v.state === "Created",
    );
    expect(info.device_tree).toBeUndefined();
    expect(parseEventFile(kept.events).at(-1)).toMatchObject({ source: "vm", event: "shutdown" });
    // Boot works again without a new create (_test_api_shutdown).
    expect((await rawRequest(kept.socket, chRemote("PUT", "vm.boot"))).status).toBe(204);
  });

  it("exits abruptly at a configured call, leaving the socket behind", async () => {
    const { socket, proc } = await startSim(sandbox, "exit-at", {
      env: { CH_SIM_EXIT_AT: "vm.boot", CH_SIM_EXIT_CODE: "3" },
    });
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    await expect(rawRequest(socket, chRemote("PUT", "vm.boot"), 2_000)).rejects.toThrow();
    expect(await proc.exited).toBe(3);
    expect(existsSync(socket)).toBe(true);
  });
});

describe("simulator features (raw socket)", () => {
  const sandbox = simSandbox("ch-sim-feat-");
  const CONFIG = JSON.parse(CREATE) as Record<string, unknown>;

  it("takes faults as --sim-* flags too: a boot failing in Vm::new leaves nothing owned", async () => {
    const { socket } = await startSim(sandbox, "bootfail", { args: ["--sim-boot-fail", "new"] });
    await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    for (let attempt = 0; attempt < 2; attempt++) {
      const boot = await rawRequest(socket, chRemote("PUT", "vm.boot"));
      expect(boot.status).toBe(500);
      expect(boot.body).not.toContain("already created"); // a retry reaches Vm::new again
    }
    const info = JSON.parse((await rawRequest(socket, chRemote("GET", "vm.info"))).body);
    expect(info.state).toBe("Created");
    expect(info.device_tree).toBeUndefined();
  });

  it("answers 429 while a vCPU removal is pending", async () => {
    const { socket } = await startSim(sandbox, "resize");
    const body = JSON.stringify({ ...CONFIG, cpus: { boot_vcpus: 4, max_vcpus: 4 } });
    await rawRequest(socket, chRemote("PUT", "vm.create", body));
    await rawRequest(socket, chRemote("PUT", "vm.boot"));
    const shrink = await rawRequest(socket, chRemote("PUT", "vm.resize", '{"desired_vcpus":2}'));
    expect(shrink.status).toBe(204);
    const again = await rawRequest(socket, chRemote("PUT", "vm.resize", '{"desired_vcpus":1}'));
    expect(again.status).toBe(429);
    await until(
      "removal done",
      async () =>
        (await rawRequest(socket, chRemote("PUT", "vm.resize", '{"desired_vcpus":1}'))).status,
      (s) => s === 204,
    );
  });

  it("resizes a disk as upstream's qcow2 backend does: no overlay with a backing file, no shrinking", async () => {
    const { socket } = await startSim(sandbox, "grow");
    const file = (name: string) => join(sandbox.dataDir, name);
    const qemuImg = (...args: string[]) => execFileSync("qemu-img", ["create", "-q", ...args]);
    qemuImg("-f", "qcow2", file("base.qcow2"), "1G");
    qemuImg("-f", "qcow2", "-b", file("base.qcow2"), "-F", "qcow2", file("overlay.qcow2"));
    qemuImg("-f", "qcow2", file("plain.qcow2"), "1G");
    const disks = [
      { id: "root", path: file("overlay.qcow2"), image_type: "Qcow2", backing_files: true },
      { id: "data", path: file("plain.qcow2"), image_type: "Qcow2" },
    ];
    await rawRequest(socket, chRemote("PUT", "vm.create", JSON.stringify({ ...CONFIG, disks })));
    await rawRequest(socket, chRemote("PUT", "vm.boot"));
    const resize = (id: string, gib: number) =>
      rawRequest(
        socket,
        chRemote("PUT", "vm.resize-disk", JSON.stringify({ id, desired_size: gib * 1024 ** 3 })),
      );
    const overlay = await resize("root", 2);
    expect(overlay.status).toBe(500);
    expect(JSON.parse(overlay.body)).toContain("Resize not supported with backing file");
    expect((await resize("root", 1)).status).toBe(204); // its own size: nothing to do
    expect((await resize("data", 2)).status).toBe(204);
    const shrink = await resize("data", 0.5);
    expect(shrink.status).toBe(500);
    expect(JSON.parse(shrink.body)).toContain("Shrinking QCOW images is not supported");
  });

  it("simulates guest reboots and panics with their events", async () => {
    const { socket, events } = await startSim(sandbox, "guest", {
      env: { CH_SIM_REBOOT_AFTER_MS: "100", CH_SIM_PANIC_AFTER_MS: "50" },
    });
    const body = JSON.stringify({ ...CONFIG, pvpanic: true });
    await rawRequest(socket, chRemote("PUT", "vm.create", body));
    await rawRequest(socket, chRemote("PUT", "vm.boot"));
    const names = await until(
      "a guest reboot",
      () => parseEventFile(events).map((e) => `${e.source}/${e.event}`),
      (n) => n.includes("vm/rebooted"),
    );
    expect(names.slice(0, 8)).toEqual([
      "vmm/starting",
      "vm/booting",
      "vm/booted",
      "virtio-device/activated",
      "guest/panic",
      "vm/rebooting",
      "virtio-device/reset",
      "vm/rebooted",
    ]);
    expect(parseEventFile(events)[4]?.properties).toEqual({ event: "panicked" });
    const info = JSON.parse((await rawRequest(socket, chRemote("GET", "vm.info"))).body);
    expect(info.state).toBe("Running");
  });

  it("binds a serial socket at create, replays output, one client at a time", async () => {
    const { socket } = await startSim(sandbox, "serial");
    const serialPath = join(sandbox.dataDir, "guest-serial.sock");
    const body = JSON.stringify({ ...CONFIG, serial: { mode: "Socket", socket: serialPath } });
    expect((await rawRequest(socket, chRemote("PUT", "vm.create", body))).status).toBe(204);
    expect((await rawRequest(socket, chRemote("PUT", "vm.boot"))).status).toBe(204);
    const read = () =>
      new Promise<{
        text: () => string;
        closed: Promise<void>;
        client: ReturnType<typeof connect>;
      }>((done) => {
        let text = "";
        const client = connect(serialPath);
        const closed = new Promise<void>((r) => client.once("close", () => r()));
        client.on("data", (d: Buffer) => {
          text += d.toString();
        });
        client.on("error", () => {});
        client.once("connect", () => done({ text: () => text, closed, client }));
      });
    const first = await read();
    await until("replayed output", first.text, (t) => t.includes("Linux version"));
    const second = await read();
    await first.closed; // kicked by the second client
    await until("replayed output", second.text, (t) => t.includes("Linux version"));
    second.client.destroy();
    // A second create with the same (existing) socket path fails like CH: 500.
    await rawRequest(socket, chRemote("PUT", "vm.delete"));
    const other = join(sandbox.dataDir, "serial-other.sock");
    await rawRequest(
      socket,
      chRemote(
        "PUT",
        "vm.create",
        JSON.stringify({ ...CONFIG, serial: { mode: "Socket", socket: other } }),
      ),
    );
    await rawRequest(socket, chRemote("PUT", "vm.delete"));
    expect(existsSync(other)).toBe(false); // removed with the VM
    const occupied = join(sandbox.dataDir, "serial-occupied");
    writeFileSync(occupied, "");
    const failed = await rawRequest(
      socket,
      chRemote(
        "PUT",
        "vm.create",
        JSON.stringify({ ...CONFIG, serial: { mode: "Socket", socket: occupied } }),
      ),
    );
    expect(failed.status).toBe(500);
    // The config was stored before the console failed: a new create needs a delete first.
    const retry = await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
    expect(JSON.parse(retry.body)).toContain("VM is already created");
  });

  it("shuts down cleanly on SIGTERM, logs with -v, and writes events to an inherited fd", async () => {
    const socket = join(sandbox.dataDir, "term.sock");
    const eventsPath = join(sandbox.dataDir, "term.events");
    const logPath = join(sandbox.dataDir, "term.log");
    const eventsFd = openSync(eventsPath, "w");
    const child = spawn(
      SIM_BIN,
      ["--api-socket", `path=${socket}`, "--event-monitor", "fd=3", "--log-file", logPath, "-v"],
      { stdio: ["ignore", "ignore", "ignore", eventsFd], detached: true },
    );
    closeSync(eventsFd);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await until(
        "socket",
        () => existsSync(socket),
        (ok) => ok,
        10_000,
      );
      await until(
        "ping",
        () =>
          rawRequest(socket, chRemote("GET", "vmm.ping")).then(
            (r) => r.status,
            () => 0,
          ),
        (s) => s === 200,
      );
      await rawRequest(socket, chRemote("PUT", "vm.create", CREATE));
      await rawRequest(socket, chRemote("PUT", "vm.boot"));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    expect(existsSync(socket)).toBe(false);
    const tail = parseEventFile(eventsPath)
      .slice(-3)
      .map((e) => `${e.source}/${e.event}`);
    expect(tail).toEqual(["vm/shutdown", "vm/deleted", "vmm/shutdown"]);
    expect(readFileSync(logPath, "utf8")).toContain('"event":"booted"');
  });
});
