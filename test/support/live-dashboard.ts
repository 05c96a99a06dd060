import { expect } from "vitest";

/**
 * For the live-update suites against a real server (Node or workerd): a JSON API caller with the
 * console session's headers, an organization and project made through it, and the dashboard's
 * event-stream URL as the page advertises it (`hx-sse:connect`).
 */
export async function liveDashboard(base: string, headers: Record<string, string>) {
  const api = async (path: string, method: string, json: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(json),
    });
    const text = await res.text();
    expect(res.ok, `${method} ${path}: ${text}`).toBe(true);
    return JSON.parse(text) as { id: string };
  };
  const org = await api("/api/v1/organizations", "POST", { name: "Live" });
  const project = await api(`/api/v1/organizations/${org.id}/projects`, "POST", { name: "Web" });
  const page = await (await fetch(`${base}/`, { headers })).text();
  const url = /hx-sse:connect="([^"]+)"/.exec(page)?.[1]?.replaceAll("&amp;", "&");
  expect(url).toMatch(/^\/dashboard\/events\?v=/);
  return { api, projectId: project.id, eventsUrl: url ?? "" };
}
