// How many `runEvents` subscriptions each token holds open in this control-plane process, capped
// by ApiLimits.maxSubscriptionsPerToken. A stream takes its slot when it starts (its first read)
// and gives it back in its `finally`, which runs however the stream ends: run finished, client
// gone (yoga returns the iterator when the request aborts), error, or the token revoked.
import { OutpostError } from '../../shared/errors.js';
import { limitDetail } from '../limits.js';

export class SubscriptionSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Streams `tokenId` holds open now. */
  held(tokenId: string): number {
    return this.open.get(tokenId) ?? 0;
  }

  /**
   * Runs `stream` while holding one of `tokenId`'s slots; refuses with TOO_MANY_SUBSCRIPTIONS
   * (before `stream` reads anything) when the token holds them all. A stream never started takes none.
   */
  async *hold<T>(tokenId: string, stream: AsyncGenerator<T>): AsyncGenerator<T> {
    const n = this.held(tokenId);
    if (n >= this.limit) {
      throw new OutpostError('TOO_MANY_SUBSCRIPTIONS', {
        detail: limitDetail('maxSubscriptionsPerToken', this.limit, `this token has ${n} open`),
        data: { limit: 'maxSubscriptionsPerToken', value: this.limit },
      });
    }
    this.open.set(tokenId, n + 1);
    try {
      yield* stream;
    } finally {
      const left = this.held(tokenId) - 1;
      if (left > 0) this.open.set(tokenId, left);
      else this.open.delete(tokenId);
    }
  }
}
