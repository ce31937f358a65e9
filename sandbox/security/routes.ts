import type { RouteDefinition } from '../http/route';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';

export function securityRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/security/public-key-certificates',
      auth: 'none',
      rateLimit: 'anonymous',
      handler: () => ({
        status: 200,
        body: ctx.keys.map((key) => ({
          certificate: key.certificate.toString('base64'),
          certificateId: key.certificateId,
          publicKeyId: key.publicKeyId,
          validFrom: formatDateTime(key.validFrom),
          validTo: formatDateTime(key.validTo),
          usage: [key.usage],
        })),
      }),
    },
  ];
}
