/** A module for `WorkerPool` tests: its function answers, fails or ends its worker as asked. */
import { threadId } from 'node:worker_threads';
import type { WorkerAnswer } from '../../shared/protocol/workerPool';

export interface EchoRequest {
  value: number;
  fail?: 'throw' | 'exit';
  delayMs?: number;
}

export async function echo(request: EchoRequest): Promise<WorkerAnswer<{ doubled: number; threadId: number; bytes: Uint8Array }>> {
  if (request.fail === 'throw') throw new Error(`task ${request.value} refused`);
  if (request.fail === 'exit') process.exit(3);
  if (request.delayMs) await new Promise((resolve) => setTimeout(resolve, request.delayMs));
  const bytes = new Uint8Array(16).fill(request.value);
  return { value: { doubled: request.value * 2, threadId, bytes }, transfer: [bytes.buffer] };
}
