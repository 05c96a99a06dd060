import { Card } from "../../components/card";

export type ActivityChart = {
  label: string;
  /** The latest rate in words ("1.2 MB/s"), or null before two reports arrived. */
  latest: string | null;
  /** Sparkline points in a 120 × 32 box; a counter reset (reboot) splits segments. */
  segments: { x: number; y: number }[][];
};

/** The console tail as the page shows it; `text` null when nothing was reported yet. */
export type ConsoleView = { text: string | null; at: string | null };

export type VmTelemetryView = {
  /** Null when the user may not see the console (no `console` permission). */
  console: ConsoleView | null;
  activity: ActivityChart[];
};

/** The serial console's tail (escaped by JSX like any text), newest output at the bottom. */
export function ConsoleCard(props: { console: ConsoleView }) {
  const { text, at } = props.console;
  return (
    <Card title="Console" id="vm-console">
      {text === null ? (
        <p class="text-sm text-gray-500" data-console="empty">
          No console output reported yet.
        </p>
      ) : (
        <div class="space-y-2">
          <pre
            class="max-h-96 overflow-auto whitespace-pre-wrap break-all rounded-md bg-gray-900 p-3 font-mono text-xs leading-5 text-gray-100"
            data-console="tail"
            tabindex={0}
          >
            {text}
          </pre>
          <p class="text-xs text-gray-500">Taken at {at}; the host reports about once a minute.</p>
        </div>
      )}
    </Card>
  );
}

function Sparkline(props: { chart: ActivityChart }) {
  const { segments } = props.chart;
  return (
    <svg
      viewBox="0 0 120 32"
      class="h-8 w-32 text-indigo-600"
      role="img"
      aria-label={`${props.chart.label} throughput over the last hour`}
      preserveAspectRatio="none"
    >
      <line x1="0" y1="31.5" x2="120" y2="31.5" stroke="#e5e7eb" stroke-width="1" />
      {segments.map((segment) =>
        segment.length === 1 ? (
          <circle cx={segment[0]?.x} cy={segment[0]?.y} r="1.5" fill="currentColor" />
        ) : (
          <polyline
            points={segment.map((p) => `${p.x},${p.y}`).join(" ")}
            fill="none"
            stroke="currentColor"
            stroke-width="1.5"
            stroke-linejoin="round"
            vector-effect="non-scaling-stroke"
          />
        ),
      )}
    </svg>
  );
}

/** Network and disk throughput from the host's recent reports, one sparkline each. */
export function ActivityCard(props: { charts: ActivityChart[] }) {
  return (
    <Card title="Activity" id="vm-activity">
      <div class="grid gap-4 sm:grid-cols-2">
        {props.charts.map((chart) => (
          <div class="flex items-center justify-between gap-4" data-chart={chart.label}>
            <div>
              <p class="text-sm font-medium text-gray-500">{chart.label}</p>
              <p class="text-sm text-gray-900" data-latest>
                {chart.latest ?? "No data yet"}
              </p>
            </div>
            {chart.segments.length > 0 ? <Sparkline chart={chart} /> : null}
          </div>
        ))}
      </div>
    </Card>
  );
}

export function VmTelemetryCards(props: VmTelemetryView) {
  return (
    <>
      {props.console ? <ConsoleCard console={props.console} /> : null}
      <ActivityCard charts={props.activity} />
    </>
  );
}
