// The store's retention (--max-age, --max-rows) applied at start and then every so often, by the
// trace's writer thread and by `memlens serve` alike (and by serve for the /proc history's tiers).

/** How often retention runs after the first pass at start. */
export const RETENTION_EVERY_MS = 10 * 60_000;

/**
 * Runs `apply` now and then every `everyMs`, one pass at a time (a pass still running when the
 * next is due is not overlapped: that one is skipped). Each outcome goes to `report`. The timer
 * does not keep the process alive. Returns the function that stops it.
 */
export function startRetentionTimer<T>(
  apply: () => Promise<T>,
  everyMs: number,
  report: (outcome: { ok: true; value: T } | { ok: false; error: unknown }) => void,
): () => void {
  let running = false;
  const pass = (): void => {
    if (running) return;
    running = true;
    apply()
      .then(
        (value) => report({ ok: true, value }),
        (error: unknown) => report({ ok: false, error }),
      )
      .finally(() => (running = false));
  };
  pass();
  const timer = setInterval(pass, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
