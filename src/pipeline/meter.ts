/**
 * Measures how much of a run's wall time was spent inside external work (podman, scanners,
 * registry calls), as the union of their time intervals, so concurrency is not double counted.
 * What remains is the orchestration overhead the benchmark reports.
 */
export class ActivityMeter {
  readonly #intervals: [number, number][] = [];
  readonly #clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock;
  }

  /** Run `f`, recording its interval as external activity. */
  async track<T>(f: () => Promise<T>): Promise<T> {
    const start = this.#clock();
    try {
      return await f();
    } finally {
      this.#intervals.push([start, this.#clock()]);
    }
  }

  /** Total time covered by at least one tracked call. */
  busyMs(): number {
    const sorted = [...this.#intervals].sort((a, b) => a[0] - b[0]);
    let total = 0;
    let cur: [number, number] | undefined;
    for (const [s, e] of sorted) {
      if (!cur || s > cur[1]) {
        if (cur) total += cur[1] - cur[0];
        cur = [s, e];
      } else if (e > cur[1]) cur[1] = e;
    }
    if (cur) total += cur[1] - cur[0];
    return total;
  }

  /** Wrap every method of an object so each call is tracked (the registry client). */
  wrap<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (obj, prop, recv) => {
        const v = Reflect.get(obj, prop, recv) as unknown;
        if (typeof v !== 'function' || prop === 'constructor') return v;
        return (...args: unknown[]) => {
          const r = (v as (...a: unknown[]) => unknown).apply(obj, args);
          return r instanceof Promise ? this.track(() => r) : r;
        };
      },
    });
  }
}
