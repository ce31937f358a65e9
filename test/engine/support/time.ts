import type { Clock, Logger, Sleep } from '../../../shared/types';

/**
 * A clock the test moves by hand. Its `sleep` advances the clock by the time asked and yields briefly in
 * real time, so polling loops still give the sandbox (which runs on real time) a chance to progress.
 */
export class ManualClock implements Clock {
  readonly sleeps: number[] = [];
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  readonly sleep: Sleep = async (ms) => {
    this.sleeps.push(ms);
    this.advance(ms);
    await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20)));
  };
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

/** Keeps everything the engine logs, to check what was requested and that no secret was written. */
export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug = (message: string, data?: Record<string, unknown>) => this.entries.push({ level: 'debug', message, data });
  info = (message: string, data?: Record<string, unknown>) => this.entries.push({ level: 'info', message, data });
  warn = (message: string, data?: Record<string, unknown>) => this.entries.push({ level: 'warn', message, data });
  error = (message: string, data?: Record<string, unknown>) => this.entries.push({ level: 'error', message, data });

  /** How many requests went to `method path` (as the transport logs them). */
  requests(method: string, path: string | RegExp): number {
    return this.entries.filter(
      (e) =>
        e.message === 'KSeF request' &&
        e.data?.method === method &&
        (typeof path === 'string' ? e.data?.path === path : path.test(String(e.data?.path))),
    ).length;
  }

  text(): string {
    return JSON.stringify(this.entries);
  }
}
