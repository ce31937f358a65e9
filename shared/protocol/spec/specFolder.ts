import * as fs from 'node:fs';
import * as path from 'node:path';

/** Environment variable naming the folder that holds the official KSeF files (`ksef-docs/...`). */
export const SPEC_DIR_ENV = 'KSEF_SPEC_DIR';

/**
 * The official KSeF files are never copied into the package: they are read from `KSEF_SPEC_DIR`, or from
 * `../shared/ksef-spec` beside the project root (`clone`) when working from a clone. Undefined when neither exists.
 */
export function findSpecFolder(explicit?: string, clone = packageRoot()): string | undefined {
  const candidates = [explicit, process.env[SPEC_DIR_ENV], specFolderBesideClone(clone)];
  return candidates.find((dir): dir is string => !!dir && fs.existsSync(path.join(dir, 'ksef-docs')));
}

/** Where a clone looks for the spec folder when `KSEF_SPEC_DIR` is not set. */
export function specFolderBesideClone(clone = packageRoot()): string {
  return path.resolve(clone, '..', 'shared', 'ksef-spec');
}

export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}
