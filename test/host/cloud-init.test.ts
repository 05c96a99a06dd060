import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildSeedImage, renderSeedFiles, SeedError } from "../../agent/src/host/cloud-init";
import { createExec } from "../../agent/src/host/exec";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx strato@test";

describe("cloud-init NoCloud seed", () => {
  const exec = createExec();
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "strato-seed-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("builds a CIDATA vfat image that mtools reads back", async () => {
    const out = join(root, "vm-1", "seed.img");
    const spec = {
      instanceId: "vm-1",
      hostname: "web-1",
      sshAuthorizedKeys: [KEY],
      nics: [
        { mac: "52:54:00:AB:CD:EF" },
        { mac: "52:54:00:00:00:02", addresses: ["10.0.0.5/24"], gateway4: "10.0.0.1" },
      ],
    };
    await buildSeedImage(spec, out, { exec });

    const { stdout: listing } = await exec("mdir", ["-i", out, "::"]);
    expect(listing).toMatch(/Volume in drive : is CIDATA/);
    for (const name of ["meta-data", "user-data", "network-config"])
      expect(listing).toContain(name);

    const read = async (name: string) => (await exec("mtype", ["-i", out, `::${name}`])).stdout;
    expect(parse(await read("meta-data"))).toEqual({
      "instance-id": "vm-1",
      "local-hostname": "web-1",
      "public-keys": [KEY],
    });
    const userData = await read("user-data");
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    expect(parse(userData)).toEqual({ hostname: "web-1", ssh_authorized_keys: [KEY] });
    expect(parse(await read("network-config"))).toEqual({
      version: 2,
      ethernets: {
        eth0: { match: { macaddress: "52:54:00:ab:cd:ef" }, "set-name": "eth0", dhcp4: true },
        eth1: {
          match: { macaddress: "52:54:00:00:00:02" },
          "set-name": "eth1",
          dhcp4: false,
          addresses: ["10.0.0.5/24"],
          routes: [{ to: "default", via: "10.0.0.1" }],
        },
      },
    });

    // Rebuilding replaces the seed whole (idempotent for a re-delivered create).
    await buildSeedImage({ ...spec, hostname: "web-2" }, out, { exec });
    expect(parse(await read("meta-data"))).toMatchObject({ "local-hostname": "web-2" });
  });

  it("merges SSH keys into the user's #cloud-config and passes other user-data through", () => {
    const own = "#cloud-config\n# mine\npackages: [nginx]\nssh_authorized_keys:\n  - ssh-rsa OLD\n";
    const merged = renderSeedFiles({
      instanceId: "i",
      hostname: "h",
      sshAuthorizedKeys: [KEY, "ssh-rsa OLD"],
      userData: own,
    })["user-data"];
    expect(merged.startsWith("#cloud-config\n")).toBe(true);
    expect(parse(merged)).toEqual({
      packages: ["nginx"],
      ssh_authorized_keys: ["ssh-rsa OLD", KEY],
    });
    expect(merged).toContain("# mine");

    const script = "#!/bin/sh\necho hi\n";
    const files = renderSeedFiles({
      instanceId: "i",
      hostname: "h",
      sshAuthorizedKeys: [KEY],
      userData: script,
    });
    expect(files["user-data"]).toBe(script);
    expect(parse(files["meta-data"])).toMatchObject({ "public-keys": [KEY] });
    expect(files["network-config"]).toBeUndefined();

    expect(
      parse(
        renderSeedFiles({
          instanceId: "i",
          hostname: "h",
          sshAuthorizedKeys: [KEY],
          userData: "#cloud-config\n",
        })["user-data"],
      ),
    ).toEqual({
      ssh_authorized_keys: [KEY],
    });
    expect(() =>
      renderSeedFiles({
        instanceId: "i",
        hostname: "h",
        sshAuthorizedKeys: [KEY],
        userData: "#cloud-config\n- a list\n",
      }),
    ).toThrow(SeedError);
  });
});
