/** The limits a context works under (limity/limity.md, limity/limity-api.md, CIRFMF/ksef-docs). */
import type { RouteDefinition, SandboxContext } from '../context';
import { MAX_INVOICES_PER_SESSION } from './sessions';

export function limitRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/rate-limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: () => ({ status: 200, body: ctx.rateLimits }),
    },
    {
      method: 'GET',
      path: '/limits/context',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: () => {
        const session = { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: MAX_INVOICES_PER_SESSION };
        return { status: 200, body: { onlineSession: session, batchSession: session } };
      },
    },
  ];
}
