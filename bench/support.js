/** What the benchmarks share: they measure our code and the machine, so the sandbox's rate limits are lifted. */
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const { PUBLISHED_RATE_LIMITS } = require(path.join(dist, 'shared', 'protocol', 'model', 'rateLimits'));

const UNLIMITED = { perSecond: 1e6, perMinute: 1e7, perHour: 1e8 };

/** Every KSeF rate-limit group lifted (the engine reads them back from `GET /rate-limits` and paces by them). */
function unlimitedRateLimits() {
  return Object.fromEntries(Object.keys(PUBLISHED_RATE_LIMITS).map((group) => [group, UNLIMITED]));
}

module.exports = { dist, unlimitedRateLimits };
