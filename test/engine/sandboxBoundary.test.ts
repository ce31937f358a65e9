import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { embeddedSandbox } from '../../sandbox';
import type { EnvironmentProvider } from '../../shared';

const ROOT = resolve(__dirname, '../..');
const ENGINE = join(ROOT, 'shared');
const SANDBOX = join(ROOT, 'sandbox');

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return typeScriptFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** Relative module paths a file names: static and type imports, re-exports, `import()` and `require()`. */
function relativeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]*)['"]/g;
  return [...source.matchAll(pattern)].map((match) => match[1]);
}

function resolveModule(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

describe('the engine and the embedded sandbox', () => {
  it('the engine reaches no sandbox module by any import path, direct or through other modules', () => {
    const seen = new Set<string>();
    const reached: string[] = [];
    const pending = typeScriptFiles(ENGINE).map((file) => ({ file, chain: [file] }));
    while (pending.length > 0) {
      const { file, chain } = pending.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of relativeImports(file)) {
        const target = resolveModule(file, specifier);
        if (!target) continue;
        if (target.startsWith(`${SANDBOX}/`)) reached.push([...chain, target].map((path) => relative(ROOT, path)).join(' -> '));
        else pending.push({ file: target, chain: [...chain, target] });
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(reached).toEqual([]);
  });

  it("the sandbox's provider is the engine's EnvironmentProvider, though the sandbox does not import the engine's type", () => {
    // Compiles only while the shapes match.
    const provider: EnvironmentProvider = embeddedSandbox();
    expect(provider.name).toBe('sandbox');
  });
});
