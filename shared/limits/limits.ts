/** The limits chapter of the API (limity/limity.md, CIRFMF/ksef-docs; "Limity i ograniczenia" of open-api.json, CIRFMF/ksef-api). */
import { endpoint } from '../http/endpoints';
import type { SubjectLimits } from './types';

/** The simple endpoints of the chapter (see `shared/http/endpoints.ts`). */
export const limitEndpoints = {
  /** The KSeF certificate limits of the authenticated subject. */
  subject: endpoint<[], SubjectLimits>({ route: 'GET /limits/subject', args: [] }),
};

/**
 * The context's effective API rate limits, which the transport paces by (`shared/http/rateLimits.ts` reads the
 * body); not a client function.
 */
export const rateLimitsEndpoint = endpoint<[], unknown>({ route: 'GET /rate-limits', args: [] });
