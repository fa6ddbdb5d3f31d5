import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '../../dead-letter/dead-letter.interface';
import type { InMemoryBroker } from './in-memory.broker';
import { matchesDeadLetter } from '../../dead-letter/dead-letter-filter';

/** Dead letters of one service kept by an `InMemoryBroker`. */
export class InMemoryDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly broker: InMemoryBroker,
    private readonly queuePrefix: () => string,
  ) {}

  private mine(filter: DeadLetterFilter = {}): DeadLetter[] {
    const prefix = this.queuePrefix() + '.';
    const all = this.broker.deadLetters.filter((d) => d.sourceQueue.startsWith(prefix) && matchesDeadLetter(d, filter));
    return filter.limit !== undefined ? all.slice(0, filter.limit) : all;
  }

  async list(filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.mine(filter).map((d) => ({ ...d }));
  }

  async count(): Promise<number> {
    return this.mine().length;
  }

  async replay(filter?: DeadLetterFilter): Promise<number> {
    const selected = this.mine(filter);
    for (const dl of selected) {
      this.remove(dl);
      this.broker.queue(dl.sourceQueue).push({ body: dl.body, attempt: 1 });
    }
    return selected.length;
  }

  async purge(filter?: DeadLetterFilter): Promise<number> {
    const selected = this.mine(filter);
    for (const dl of selected) this.remove(dl);
    return selected.length;
  }

  private remove(dl: DeadLetter): void {
    const i = this.broker.deadLetters.indexOf(dl);
    if (i >= 0) this.broker.deadLetters.splice(i, 1);
  }
}
