// What a suite's before() started, stopped in reverse order by its after() — only what did start.
// A before() that fails halfway would otherwise leave its server or browser running, and the test
// file would never end.
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step, newest first, even when some fail; then throws the first failure. */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (e) {
        failures.push(e);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
