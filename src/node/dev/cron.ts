/**
 * `wrangler dev` never fires cron triggers by itself; with `--test-scheduled` it runs the Worker's
 * scheduled handler when `/__scheduled` is requested. The dev runner does that on a timer, so the
 * reconciler and the authorization sync run in development as they do in production (where the
 * trigger is once a minute; here as often as the Node server's timer, so changes show sooner).
 */
export type DevCron = { stop(): void };

export const DEV_CRON_INTERVAL_MS = 10_000;

export function startDevCron(
  workerUrl: string,
  log: (line: string) => void,
  intervalMs: number = DEV_CRON_INTERVAL_MS,
): DevCron {
  let failing = false;
  const fire = async () => {
    try {
      const res = await fetch(`${workerUrl}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (failing) log("periodic jobs: running again");
      failing = false;
    } catch (err) {
      // Said once per outage, not every tick.
      if (!failing) log(`periodic jobs: the scheduled handler failed (${String(err)})`);
      failing = true;
    }
  };
  void fire();
  const timer = setInterval(() => void fire(), intervalMs);
  return { stop: () => clearInterval(timer) };
}
