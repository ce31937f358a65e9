/**
 * Jest global setup of both suites: the tests read the official KSeF files from the spec folder. Without one
 * (a fresh clone: no KSEF_SPEC_DIR, no ../shared/ksef-spec) the pinned files are fetched once into the user's
 * cache. KSEF_SPEC_DIR then names the folder for the test workers, which inherit this process's environment,
 * and for the n8n and Node-RED processes the host tests start.
 */
import { resolveSpecFolder } from '../../sandbox/fetchSpec';
import { SPEC_DIR_ENV } from '../../shared/protocol/spec/specFolder';

export default async function specSetup(): Promise<void> {
  process.env[SPEC_DIR_ENV] = await resolveSpecFolder({ log: (line) => process.stderr.write(`${line}\n`) });
}
