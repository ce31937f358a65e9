/**
 * The limits a context and an authenticated subject work under (limity/limity.md, limity/limity-api.md,
 * CIRFMF/ksef-docs; EffectiveApiRateLimits, EffectiveContextLimits and EffectiveSubjectLimits of open-api.json,
 * CIRFMF/ksef-api).
 */
import { principalOf, type RouteDefinition, type SandboxContext } from '../context';
import { effectiveRateLimitsBody } from '../rateLimits';
import { MAX_INVOICES_PER_SESSION } from './sessions';

/** The default maximum of invoices in one collective identifier (the `GET /limits/context` example of open-api.json). */
const MAX_INVOICES_PER_COLLECTIVE_IDENTIFIER = 500;

export function limitRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/rate-limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: () => ({ status: 200, body: effectiveRateLimitsBody(ctx.rateLimits) }),
    },
    {
      method: 'GET',
      path: '/limits/context',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: () => {
        const session = { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: MAX_INVOICES_PER_SESSION };
        return {
          status: 200,
          body: { onlineSession: session, batchSession: session, collectiveIdentifier: { maxInvoices: MAX_INVOICES_PER_COLLECTIVE_IDENTIFIER } },
        };
      },
    },
    {
      method: 'GET',
      path: '/limits/subject',
      auth: 'accessToken',
      rateLimit: 'other',
      // The certificate limits of the subject that authenticated, by the kind of its identifier (limity/limity.md).
      handler: (req) => {
        const { subject } = principalOf(req).operation;
        if (!subject) throw new Error(`authentication ${principalOf(req).operation.referenceNumber} succeeded without a subject`);
        const { maxEnrollments, maxCertificates } = ctx.state.certificateLimits[subject.type];
        return { status: 200, body: { enrollment: { maxEnrollments }, certificate: { maxCertificates } } };
      },
    },
  ];
}
