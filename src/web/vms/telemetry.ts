import type { ActivityChart } from "../../../templates/pages/vms/telemetry";
import type { VmActivity } from "../../domain/vms/telemetry";
import type { RateSeries } from "../../domain/vms/telemetry-rates";

/** The sparklines' drawing box (SVG user units). */
export const SPARK_WIDTH = 120;
export const SPARK_HEIGHT = 32;

const UNITS = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];

/** A throughput in decimal units, as people read it: "0 B/s", "1.2 MB/s", "310 kB/s". */
export function formatRate(perSecond: number): string {
  let value = Math.max(0, perSecond);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${UNITS[unit]}`;
}

/**
 * Points of each segment in the sparkline's box: time across the shared time range, rate upwards
 * from the bottom against the highest rate (a flat line at the bottom when all are 0).
 */
export function sparkline(series: RateSeries): { x: number; y: number }[][] {
  const points = series.segments.flat();
  const first = points[0];
  if (!first) return [];
  const from = first.at;
  const span = Math.max(1, (points[points.length - 1]?.at ?? from) - from);
  const max = Math.max(...points.map((p) => p.perSecond));
  const round = (n: number) => Math.round(n * 10) / 10;
  return series.segments.map((segment) =>
    segment.map((p) => ({
      x: points.length === 1 ? SPARK_WIDTH : round(((p.at - from) / span) * SPARK_WIDTH),
      y: round(SPARK_HEIGHT - 1 - (max > 0 ? (p.perSecond / max) * (SPARK_HEIGHT - 2) : 0)),
    })),
  );
}

function chart(label: string, series: RateSeries): ActivityChart {
  return {
    label,
    latest: series.latest ? formatRate(series.latest.perSecond) : null,
    segments: sparkline(series),
  };
}

/** The Activity card's charts. */
export function activityCharts(activity: VmActivity): ActivityChart[] {
  return [chart("Network", activity.network), chart("Disk", activity.disk)];
}
