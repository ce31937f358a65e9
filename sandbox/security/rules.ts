/** Which of KSeF's public keys a request means (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md, CIRFMF/ksef-docs). */
import type { PublicKeyUsage } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { currentKey, type SandboxKey } from './keys';

/** The published key a request names by `publicKeyId`, or the current one when it names none. */
export function keyFor(ctx: SandboxContext, usage: PublicKeyUsage, publicKeyId?: string | null): SandboxKey | undefined {
  if (publicKeyId == null) return currentKey(ctx.keys, usage, ctx.clock.now());
  return ctx.keys.find((k) => k.usage === usage && k.publicKeyId === publicKeyId);
}
