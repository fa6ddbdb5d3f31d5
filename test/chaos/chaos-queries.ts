/**
 * "No caller waits forever": after a scenario, the producer's routed queries (ChaosCount, 3 s
 * timeout each) must all have settled — answered, or failed with a typed error (timeout, no
 * responder, interrupted) — within their timeout plus a margin. Asked of the live producer
 * process (a producer killed by the scenario took its callers with it).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the producer reports (see chaos-app.ts). */
export interface QueryStats {
  asked: number;
  settled: number;
  outcomes: Record<string, number>;
}

/** The producer process as far as this needs it. */
interface ProducerLike {
  child: { send?: (message: object) => unknown; exitCode: number | null; signalCode: NodeJS.Signals | null };
  messages: Array<Record<string, unknown>>;
}

/** Asks for the producer's figures until every query settled or `waitMs` passed; the last figures. */
export async function settledQueries(producer: ProducerLike, waitMs = 15_000): Promise<QueryStats | undefined> {
  const deadline = Date.now() + waitMs;
  let last: QueryStats | undefined;
  while (Date.now() < deadline) {
    if (producer.child.exitCode !== null || producer.child.signalCode !== null) return last;
    const seen = producer.messages.length;
    producer.child.send?.({ queryStats: true });
    const until = Date.now() + 2_000;
    while (Date.now() < until && !producer.messages.slice(seen).some((m) => 'queryStats' in m)) await sleep(50);
    const reply = producer.messages.slice(seen).find((m) => 'queryStats' in m);
    if (reply) last = reply.queryStats as QueryStats;
    if (last && last.settled === last.asked) return last;
    await sleep(250);
  }
  return last;
}
