/**
 * Counter and histogram families whose hot path is plain number arithmetic: prom-client's own
 * `inc()`/`observe()` validate and hash the labels on every call, which costs more than handling an
 * in-memory message. These keep per-child numbers and render them at scrape time through
 * prom-client's metric interface (`get()`), registered with `registry.registerMetric()`.
 */

type Labels = Record<string, string>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What a prom-client registry reads from a metric. */
export interface RegistrableMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

/** One labelled counter. */
export class CounterChild {
  value = 0;
  constructor(readonly labels: Labels) {}
  /** Adds `by` (default 1). */
  inc(by = 1): void {
    this.value += by;
  }
}

/** One labelled histogram. */
export class HistogramChild {
  /** Non-cumulative counts per bucket, the last one for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  /** Records one value. */
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

abstract class Family<C> implements RegistrableMetric {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  protected readonly children = new Map<string, C>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  protected abstract create(labels: Labels): C;
  protected abstract render(child: C): MetricValue[];

  /** The child for `labels` (created at zero on first use). */
  child(labels: Labels): C {
    const key = JSON.stringify(labels);
    let c = this.children.get(key);
    if (!c) this.children.set(key, (c = this.create({ ...labels })));
    return c;
  }

  async get() {
    const values: MetricValue[] = [];
    for (const c of this.children.values()) values.push(...this.render(c));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.children.clear();
  }
}

/** A counter family (`*_total`). */
export class CounterFamily extends Family<CounterChild> {
  readonly type = 'counter' as const;
  protected create(labels: Labels): CounterChild {
    return new CounterChild(labels);
  }
  protected render(c: CounterChild): MetricValue[] {
    return [{ labels: c.labels, value: c.value }];
  }
}

/** A histogram family with fixed buckets (`_bucket`, `_sum`, `_count` series). */
export class HistogramFamily extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help);
  }
  protected create(labels: Labels): HistogramChild {
    return new HistogramChild(labels, this.bounds);
  }
  protected render(c: HistogramChild): MetricValue[] {
    const out: MetricValue[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += c.counts[i];
      const le = i < this.bounds.length ? this.bounds[i] : '+Inf';
      out.push({ labels: { ...c.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    out.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
    out.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    return out;
  }
}
