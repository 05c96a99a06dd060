import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAgentAndVmms } from "../hypervisor/support";
import { ImageServer, MiB, makeImage } from "../ops/support";
import { launchChromium } from "../support/browser";
import { freePort, processSandbox, type Spawned, waitForOutput } from "../support/processes";
import { signingEnv } from "../support/signing";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");
const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");

/**
 * The product as a new operator meets it, in Debian chromium with a virtual authenticator, against
 * real processes: the Node control plane, `strato-agent` and the Cloud Hypervisor simulator. Set up
 * with a passkey → organization and project → enroll and approve the host → add an image → create a
 * VM and watch it become Running without reloading → stop it → delete it.
 */
describe("from a fresh install to a running VM, in chromium", () => {
  const sandbox = processSandbox("strato-journey-");
  const stateDir = join(sandbox.dataDir, "agent");
  const images = new ImageServer();
  let browser: Browser;
  let server: Spawned;
  let agent: Spawned | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    await images.start();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAgentAndVmms(agent, join(stateDir, "run"));
    await images.stop();
  });

  const output = () =>
    `agent:\n${agent?.output().slice(-4000) ?? ""}\nserver:\n${server?.output().slice(-3000)}`;

  async function virtualAuthenticator(page: Page): Promise<void> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
  }

  it("sets up, enrolls a host, and runs a VM through its life", { timeout: 240_000 }, async () => {
    const image = await makeImage(images, sandbox.dataDir, "debian.qcow2", "qcow2", 64 * MiB);
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    server = sandbox.spawn(TSX, ["src/entry/node.ts"], {
      PORT: String(port),
      DATABASE_URL: `file:${join(sandbox.dataDir, "cp.db")}`,
      ...(await signingEnv()),
      WEBAUTHN_RP_ID: "localhost",
      WEBAUTHN_ORIGIN: origin,
    });
    await waitForOutput(server, "listening on", 60_000);
    const code = /[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}/.exec(server.output())?.[0];
    if (!code) throw new Error(`no set-up code printed:\n${server.output()}`);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} ${r.url()}`);
    });
    await virtualAuthenticator(page);

    // The first visitor presents the set-up code and registers a passkey.
    await page.goto(`${origin}/`);
    await page.waitForURL(`${origin}/setup`);
    await page.getByLabel("Set-up code").fill(code);
    await page.getByLabel("Email").fill("ada@example.test");
    await page.getByLabel("Your name").fill("Ada Lovelace");
    await page.getByRole("button", { name: /create admin account/i }).click();
    await page.waitForURL(`${origin}/`);

    // An organization and a project.
    await page.goto(`${origin}/orgs/new`);
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Acme");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/org_/);
    const orgUrl = page.url();
    await page.getByRole("link", { name: "New project" }).click();
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Web");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/projects\/prj_/);
    const projectId = new URL(page.url()).pathname.split("/").pop() ?? "";

    // A host: an enrollment token from the Hosts page, `strato-agent enroll` on the host, approval.
    await page.goto(`${orgUrl}/hosts`);
    await page.getByLabel("Description").fill("rack 1");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByLabel("Enrollment token").inputValue();
    await expect(page.locator("[data-enroll-command]").textContent()).resolves.toContain(secret);
    const agentEnv = {
      STRATO_AGENT_HEARTBEAT_MS: "1000",
      STRATO_AGENT_STATUS_MS: "2000",
      STRATO_AGENT_POLL_MS: "500",
      STRATO_AGENT_APPROVAL_POLL_MS: "500",
      STRATO_AGENT_MACHINE_ID: "journey000000000000000000000000a",
      STRATO_AGENT_KERNEL: join(sandbox.dataDir, "vmlinux"),
    };
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", origin, "--token", secret, "--state-dir", stateDir],
      agentEnv,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    await waitForOutput(agent, "waiting for approval", 30_000);
    await page.reload();
    await page.locator('[data-action="approve"]').click();
    await expect(page.locator("[data-flash]").textContent()).resolves.toContain("approved");
    // Health shows once the agent has reported its status.
    for (let i = 0; ; i++) {
      await page.reload();
      const health = await page.locator("[data-health]").first().getAttribute("data-health");
      if (health === "healthy" || health === "warning") break;
      if (i > 60) throw new Error(`the host never reported (health ${health})\n${output()}`);
      await page.waitForTimeout(500);
    }

    // An image for the catalog, served from loopback.
    await page.goto(`${orgUrl}/images`);
    await page.getByLabel("Name").fill("debian");
    await page.getByLabel("URL").fill(image.url);
    await page.getByLabel("SHA-256").fill(image.sha256);
    await page.getByRole("button", { name: "Add image" }).click();
    await page.locator("text=debian").first().waitFor();

    // A VM: created from the form, Running without a reload (the page's event stream).
    await page.goto(`${origin}/projects/${projectId}/vms/new`);
    await page.getByLabel("Name").fill("web-1");
    await page.getByLabel("Preset").selectOption("small");
    await page.locator('[data-placement="ok"]').waitFor();
    await page.getByRole("button", { name: "Create VM" }).click();
    await page.waitForURL(/\/vms\/vm_/);
    const vmUrl = page.url();
    await page
      .locator('#vm-state [data-state="running"]')
      .waitFor({ timeout: 90_000 })
      .catch((e: unknown) => {
        throw new Error(`${String(e)}\n${output()}`);
      });
    expect(page.url()).toBe(vmUrl);

    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator('#vm-state [data-state="stopped"]').waitFor({ timeout: 60_000 });

    await page.getByRole("link", { name: "Delete" }).click();
    await page.locator('[data-action="delete"]').click();
    await page.waitForURL(`${origin}/projects/${projectId}/vms`);
    // The list is live too: the row goes once the host has removed the VM.
    await page.locator("#vms [data-key]").first().waitFor({ state: "detached", timeout: 60_000 });

    expect(problems).toEqual([]);
    await context.close();
  });
});
