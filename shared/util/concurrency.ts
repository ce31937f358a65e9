/** Runs `task` over `items` with at most `limit` running at once; resolves when all have settled. */
export async function forEachWithConcurrency<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Lets the event loop run (timers, sockets, other work of the host) once `sliceMs` of synchronous work have passed
 * since it last ran: a loop over thousands of invoices read, checked and compressed without a real wait would
 * otherwise hold a host's event loop (n8n, Node-RED) for seconds.
 */
export class EventLoopTurns {
  private since = performance.now();

  constructor(private readonly sliceMs = 10) {}

  async take(): Promise<void> {
    if (performance.now() - this.since < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
