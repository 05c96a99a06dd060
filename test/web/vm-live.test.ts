import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import type { TestUser } from "../support/actors";
import { hostReports as hostReportsNow, vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { get, html, partial } from "../support/pages";
import { until } from "../support/poll";
import { SseReader } from "../support/sse";
import { createOrg, createProject, okJson, type Team } from "../tenancy/fixtures";

/** Streams that look for changes every 25 ms, so the tests wait little (the default is 1 s). */
const LIVE = { config: { live: { checkMs: 25, heartbeatMs: 15_000, maxMs: 300_000 } } };

const fleet = () => vmFleet(LIVE);

async function createThroughApi(t: Team, imageId: string, name = "web-1") {
  const res = await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
    method: "POST",
    json: { name, imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
  });
  return (await okJson<{ vm: { id: string } }>(res, 202)).vm.id;
}

/** Plays the host: the latest work item of the VM succeeded (a second later, unless `now`). */
async function hostReports(h: Harness, vmId: string, when: "later" | "now" = "later") {
  if (when === "later") h.clock.advance(1000);
  await hostReportsNow(h, vmId);
}

/** The stream URL a page connects to (`hx-sse:connect`). */
function streamUrlOf(page: string): string {
  const url = /hx-sse:connect="([^"]+)"/.exec(page)?.[1];
  if (!url) throw new Error("the page has no live region");
  return url.replaceAll("&amp;", "&");
}

/** The stream request as htmx's SSE extension makes it. */
function openStream(user: TestUser, url: string, headers: Record<string, string> = {}) {
  return user.request(url, {
    headers: {
      accept: "text/html, text/event-stream",
      "hx-request": "true",
      "hx-request-type": "partial",
      ...headers,
    },
  });
}

function streamEnded(h: Harness, how: string) {
  return until(
    `a live stream that ended: ${how}`,
    async () =>
      h.logs.entries.find((e) => e.message === "live stream ended" && e.ended === how) ?? undefined,
    { timeoutMs: 5000 },
  );
}

describe("live VM views (server-sent events)", () => {
  it("streams the detail panel when the VM changes, and stops when the client goes", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    const page = await html(await get(t.member, `/vms/${vmId}`));
    const url = streamUrlOf(page);
    expect(url).toMatch(new RegExp(`^/vms/${vmId}/events\\?v=`));
    // Polling stays in the page as the fallback.
    expect(page).toContain('hx-trigger="every 3s"');
    expect(page).toContain("data-poll-fallback");

    const res = await openStream(t.member, url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = new SseReader(res);
    try {
      // The page already shows the current state: nothing is sent until it changes.
      expect(await sse.next(200)).toBe("timeout");

      await hostReports(h, vmId);
      const running = await sse.event();
      expect(running.event).toBe("");
      expect(running.id).toBeTruthy();
      expect(running.data).not.toContain("<html");
      expect(running.data).toContain('id="vm-live"');
      expect(running.data).toContain('<span data-state="running">');
      expect(running.data).toContain(`action="/vms/${vmId}/stop"`);

      // An action through the API: the new operation and its progress arrive.
      h.clock.advance(1000);
      await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
      const stopping = await sse.event();
      expect(stopping.data).toContain('<span data-state="stopping">');
      expect(stopping.data).toContain("vm.stop");
      expect(stopping.data).toContain("data-busy=");
      expect(stopping.id).not.toBe(running.id);
    } finally {
      await sse.close();
    }
    // The server notices the client has gone and ends the stream.
    await streamEnded(h, "disconnected");
  });

  it("resends what a reconnecting client missed (Last-Event-ID), and nothing else", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    // Without a version the client has nothing: the panel comes at once.
    const fresh = new SseReader(await openStream(t.member, `/vms/${vmId}/events`));
    const first = await fresh.event();
    await fresh.close();
    expect(first.data).toContain('<span data-state="provisioning">');

    const current = new SseReader(
      await openStream(t.member, `/vms/${vmId}/events?v=stale`, {
        "last-event-id": first.id ?? "",
      }),
    );
    expect(await current.next(200)).toBe("timeout");
    await current.close();

    await hostReports(h, vmId);
    const behind = new SseReader(
      await openStream(t.member, `/vms/${vmId}/events`, { "last-event-id": first.id ?? "" }),
    );
    expect((await behind.event()).data).toContain('<span data-state="running">');
    await behind.close();
  });

  it("sends a heartbeat while quiet and ends itself after its lifetime", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    const page = await html(await get(t.viewer, `/vms/${vmId}`));
    const sse = new SseReader(await openStream(t.viewer, streamUrlOf(page)));
    try {
      h.clock.advance(15_000);
      expect(await sse.next()).toEqual({ kind: "comment", text: "keep-alive" });
      h.clock.advance(300_000);
      expect(await sse.next()).toBe("end");
    } finally {
      await sse.close();
    }
    await streamEnded(h, "lifetime");
  });

  it("says when the VM is gone and closes the stream", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    await hostReports(h, vmId);
    const page = await html(await get(t.member, `/vms/${vmId}`));
    const sse = new SseReader(await openStream(t.member, streamUrlOf(page)));
    try {
      h.clock.advance(1000);
      await okJson(await t.member.request(`/api/v1/vms/${vmId}`, { method: "DELETE" }), 202);
      expect((await sse.event()).data).toContain('<span data-state="deleting">');
      await hostReports(h, vmId);
      // A last fragment that fetches the panel once more (the server then redirects to the
      // list), and the event the page closes the stream on.
      const gone = await sse.event();
      expect(gone.data).toContain("data-vm-gone");
      expect(gone.data).toContain(`hx-get="/vms/${vmId}"`);
      expect(await sse.event()).toMatchObject({ event: "gone" });
      expect(await sse.next()).toBe("end");
    } finally {
      await sse.close();
    }
    expect(page).toContain('hx-sse:close="gone"');
    await streamEnded(h, "gone");
  });

  it("ends the stream once its session is signed out, at the latest a heartbeat period later", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    const page = await html(await get(t.member, `/vms/${vmId}`));
    const sse = new SseReader(await openStream(t.member, streamUrlOf(page)));
    try {
      expect((await t.member.request("/sign-out", { method: "POST" })).status).toBe(303);
      // Nothing changed on the VM: the periodic check finds the session gone.
      h.clock.advance(15_000);
      const gone = await sse.event();
      expect(gone.data).toContain("data-vm-gone");
      expect(await sse.event()).toMatchObject({ event: "gone" });
      expect(await sse.next()).toBe("end");
    } finally {
      await sse.close();
    }
    await streamEnded(h, "access");
    // The fetch the fragment makes goes to sign-in.
    expect((await get(t.member, `/vms/${vmId}`)).status).toBe(303);
  });

  it("ends the dashboard stream when what the viewer may see changes", async () => {
    const { h, t, imageId } = await fleet();
    const page = await html(await get(t.viewer, "/"));
    const sse = new SseReader(await openStream(t.viewer, streamUrlOf(page)));
    try {
      expect(await sse.next(200)).toBe("timeout");
      const removed = await t.owner.request(
        `/api/v1/organizations/${t.org.id}/members/${t.viewer.user.id}`,
        { method: "DELETE" },
      );
      expect(removed.status).toBe(204);
      // A change in the organization would have been streamed to the viewer: it is not.
      await createThroughApi(t, imageId);
      const gone = await sse.event();
      expect(gone.data).toContain("Reload the page");
      expect(gone.data).not.toContain("vm.create");
      expect(await sse.event()).toMatchObject({ event: "gone" });
    } finally {
      await sse.close();
    }
    await streamEnded(h, "access");
  });

  it("streams the rows of the VM list: new VMs and state changes, same filters", async () => {
    const { h, t, imageId } = await fleet();
    const a = await createThroughApi(t, imageId, "a");
    const page = await html(await get(t.viewer, `/projects/${t.project.id}/vms?q=a&limit=5`));
    const url = streamUrlOf(page);
    expect(url).toMatch(
      new RegExp(`^/projects/${t.project.id}/vms/events\\?q=a&limit=5&v=[0-9a-z.]+$`),
    );
    const sse = new SseReader(await openStream(t.viewer, url));
    try {
      expect(await sse.next(200)).toBe("timeout");
      await hostReports(h, a);
      const running = await sse.event();
      expect(running.data).toContain('id="vm-rows"');
      expect(running.data).not.toContain("<html");
      expect(running.data).toMatch(/>a<\/a>.*?<span data-state="running">/s);

      h.clock.advance(1000);
      const ab = await createThroughApi(t, imageId, "ab");
      await createThroughApi(t, imageId, "other");
      const added = await sse.event();
      expect(added.data).toContain(">ab</a>");
      // The list's filter applies to what is streamed.
      expect(added.data).not.toContain(">other</a>");
      // The rows keep their polling fallback, with the same filters.
      expect(added.data).toContain(`hx-get="/projects/${t.project.id}/vms?q=a&amp;limit=5"`);

      // A change stamped with the same millisecond as the last one still shows.
      await hostReports(h, ab, "now");
      expect((await sse.event()).data).toMatch(/>ab<\/a>.*?<span data-state="running">/s);
    } finally {
      await sse.close();
    }
    await streamEnded(h, "disconnected");
  });

  it("streams the dashboard's cards: VMs, operations, and host health that changes with time", async () => {
    const { h, t, imageId } = await fleet();
    const page = await html(await get(t.member, "/"));
    const url = streamUrlOf(page);
    expect(url).toMatch(/^\/dashboard\/events\?v=[0-9a-z.]+$/);
    // The fallback poll gets the cards alone.
    const cards = await html(await partial(t.member, "/"));
    expect(cards).toMatch(/^<title>[^<]*<\/title><div id="dashboard-live"/);
    expect(cards).toContain('hx-trigger="every 15s"');

    const sse = new SseReader(await openStream(t.member, url));
    try {
      expect(await sse.next(200)).toBe("timeout");
      const vmId = await createThroughApi(t, imageId);
      const created = await sse.event();
      expect(created.data).toMatch(/^<div id="dashboard-live"/);
      expect(created.data).toMatch(/data-vm-count="provisioning".*?>1</s);
      expect(created.data).toContain("vm.create");
      expect(created.data).toMatch(/data-quota="VMs".*?1 of 20/s);

      await hostReports(h, vmId, "now");
      expect((await sse.event()).data).toMatch(/data-vm-count="running".*?>1</s);

      // Nothing is written when a host falls silent: its health changes with time alone.
      h.clock.advance(60_000);
      expect((await sse.event()).data).toContain('data-host-health="unreachable"');
    } finally {
      await sse.close();
    }
    // Someone without an organization has no live cards.
    expect(await html(await get(t.outsider, "/"))).not.toContain("hx-sse:connect");
  });

  it("takes its timings from the configuration, refusing nonsense", () => {
    const env = { DATABASE_URL: "file:x.db" };
    expect(parseConfig(env, "node").live).toEqual({
      checkMs: 1000,
      heartbeatMs: 15_000,
      maxMs: 300_000,
    });
    // On Workers a stream's checks are subrequests (50 on the free plan): a shorter default life.
    expect(parseConfig(env, "workers").live.maxMs).toBe(40_000);
    const tuned = parseConfig(
      { ...env, STRATO_LIVE_CHECK_MS: "2000", STRATO_LIVE_MAX_S: "30" },
      "workers",
    );
    expect(tuned.live).toMatchObject({ checkMs: 2000, maxMs: 30_000 });
    expect(() => parseConfig({ ...env, STRATO_LIVE_CHECK_MS: "5" }, "node")).toThrow(
      /STRATO_LIVE_CHECK_MS/,
    );
    expect(() => parseConfig({ ...env, STRATO_LIVE_MAX_S: "forever" }, "node")).toThrow(
      /STRATO_LIVE_MAX_S/,
    );
  });

  it("is authorized like its page: 404 for outsiders and unknown projects, sign-in for nobody", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    // The outsider's own organization and project: real, but not the member's.
    const elsewhere = await createProject(t.outsider, (await createOrg(t.outsider, "Other")).id);
    for (const [user, path] of [
      [t.outsider, `/vms/${vmId}/events`],
      [t.outsider, `/projects/${t.project.id}/vms/events`],
      [t.member, `/projects/${elsewhere.id}/vms/events`],
      [t.member, "/projects/prj_nope/vms/events"],
      [t.member, "/vms/vm_nope/events"],
    ] as const) {
      const res = await openStream(user, path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toContain("text/html");
      expect(await res.text(), path).toContain('data-problem-code="not_found"');
    }
    // The outsider may stream their own project.
    const own = await openStream(t.outsider, `/projects/${elsewhere.id}/vms/events`);
    expect(own.headers.get("content-type")).toContain("text/event-stream");
    await own.body?.cancel();

    const anonymous = await h.request(`/vms/${vmId}/events`, {
      headers: { accept: "text/event-stream" },
    });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe(
      `/sign-in?next=${encodeURIComponent(`/vms/${vmId}/events`)}`,
    );
    const nobody = await h.request("/dashboard/events", {
      headers: { accept: "text/event-stream" },
    });
    expect(nobody.status).toBe(303);
    // A bad cursor is the list's 422, not a stream.
    const bad = await openStream(t.member, `/projects/${t.project.id}/vms/events?cursor=@@`);
    expect(bad.status).toBe(422);
  });
});
