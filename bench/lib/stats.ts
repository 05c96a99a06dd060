/** Nearest-rank percentile of ascending `sorted` samples, rounded to µs (the benches print ms). */
export function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[index] ?? 0) * 1000) / 1000;
}
