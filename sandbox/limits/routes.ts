/**
 * The limits a context and an authenticated subject work under, and the test-environment endpoints that change a
 * context's limits at run time (limity/limity.md, limity/limity-api.md, CIRFMF/ksef-docs; EffectiveApiRateLimits,
 * EffectiveContextLimits, EffectiveSubjectLimits, SetRateLimitsRequest and SetSessionLimitsRequest of open-api.json,
 * CIRFMF/ksef-api).
 */
import { PUBLISHED_RATE_LIMITS } from '../../shared/protocol/model/rateLimits';
import { principalOf, type RouteDefinition, type SandboxRequest } from '../http/route';
import type { SandboxContext } from '../context';
import { requireInteger, requireObject, type JsonRecord } from '../http/input';
import type { ContextLimits, RateLimit, SessionLimits } from './records';
import { OVERRIDABLE_RATE_LIMIT_GROUPS, effectiveRateLimitsBody } from './rules';

export function limitRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { limits } = ctx.state;
  const contextOf = (req: SandboxRequest) => principalOf(req).operation.contextIdentifier;
  const ok = () => ({ status: 200 });
  return [
    {
      method: 'GET',
      path: '/rate-limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => ({ status: 200, body: effectiveRateLimitsBody(limits.rateLimitsOf(contextOf(req))) }),
    },
    {
      method: 'GET',
      path: '/limits/context',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => ({ status: 200, body: limits.contextLimitsOf(contextOf(req)) }),
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
    {
      method: 'POST',
      path: '/testdata/rate-limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const body = requireObject(requireObject(req.json, '(body)').rateLimits, 'rateLimits');
        const groups = OVERRIDABLE_RATE_LIMIT_GROUPS.map((group) => [group, rateLimitOf(body, group)] as const);
        limits.setRateLimits(contextOf(req), Object.fromEntries(groups));
        return ok();
      },
    },
    {
      method: 'DELETE',
      path: '/testdata/rate-limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        limits.resetRateLimits(contextOf(req));
        return ok();
      },
    },
    {
      method: 'POST',
      path: '/testdata/rate-limits/production',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        limits.setRateLimits(contextOf(req), PUBLISHED_RATE_LIMITS);
        return ok();
      },
    },
    {
      method: 'POST',
      path: '/testdata/limits/context/session',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const collectiveIdentifier = requireObject(body.collectiveIdentifier, 'collectiveIdentifier');
        const set: ContextLimits = {
          onlineSession: sessionLimitsOf(body, 'onlineSession'),
          batchSession: sessionLimitsOf(body, 'batchSession'),
          collectiveIdentifier: { maxInvoices: requireInteger(collectiveIdentifier, 'maxInvoices', 'collectiveIdentifier.maxInvoices') },
        };
        limits.setContextLimits(contextOf(req), set);
        return ok();
      },
    },
    {
      method: 'DELETE',
      path: '/testdata/limits/context/session',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        limits.resetContextLimits(contextOf(req));
        return ok();
      },
    },
  ];
}

function rateLimitOf(body: JsonRecord, group: string): RateLimit {
  const limit = requireObject(body[group], `rateLimits.${group}`);
  return {
    perSecond: requireInteger(limit, 'perSecond', `rateLimits.${group}.perSecond`),
    perMinute: requireInteger(limit, 'perMinute', `rateLimits.${group}.perMinute`),
    perHour: requireInteger(limit, 'perHour', `rateLimits.${group}.perHour`),
  };
}

function sessionLimitsOf(body: JsonRecord, sessionType: 'onlineSession' | 'batchSession'): SessionLimits {
  const limits = requireObject(body[sessionType], sessionType);
  return {
    maxInvoiceSizeInMB: requireInteger(limits, 'maxInvoiceSizeInMB', `${sessionType}.maxInvoiceSizeInMB`),
    maxInvoiceWithAttachmentSizeInMB: requireInteger(
      limits,
      'maxInvoiceWithAttachmentSizeInMB',
      `${sessionType}.maxInvoiceWithAttachmentSizeInMB`,
    ),
    maxInvoices: requireInteger(limits, 'maxInvoices', `${sessionType}.maxInvoices`),
  };
}
