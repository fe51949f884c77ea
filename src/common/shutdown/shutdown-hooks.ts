import { Injectable } from '@nestjs/common';

export type CancelRunningWork = () => Promise<unknown>;

/**
 * The shutdown phase other layers join without graceful shutdown knowing them: when the drain window closes
 * with requests still running, every registered canceller runs (the data layer registers one that cancels its
 * ClickHouse queries). Cancellers run concurrently; one failing does not stop the others.
 */
@Injectable()
export class ShutdownHooks {
  private readonly cancellers = new Set<CancelRunningWork>();

  /** Registers work to cancel when the drain times out; returns the function that unregisters it. */
  onDrainTimeout(cancel: CancelRunningWork): () => void {
    this.cancellers.add(cancel);
    return () => {
      this.cancellers.delete(cancel);
    };
  }

  /** Runs every canceller; resolves with the errors of those that failed (empty when all succeeded). */
  async cancelRunningWork(): Promise<Error[]> {
    const results = await Promise.allSettled([...this.cancellers].map((cancel) => cancel()));
    return results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason : new Error(String(r.reason))] : []));
  }
}
