import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const packageDir = join(__dirname, '..');

/** Every file the ES module entry reaches through relative imports, and every other specifier it imports. */
function reachable(entry: string): { files: string[]; external: string[] } {
  const files = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(
      /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g,
    )) {
      if (specifier!.startsWith('.')) visit(resolve(dirname(file), specifier!));
      else external.add(specifier!);
    }
  };
  visit(entry);
  return { files: [...files], external: [...external] };
}

describe('the built package', () => {
  it('keeps its main entry free of Node modules, so browsers, Deno and Bun can load it', () => {
    const { files, external } = reachable(join(packageDir, 'dist', 'index.js'));
    expect(files.length).toBeGreaterThan(5);
    expect(external).toEqual([]);
    expect(files.some((file) => file.endsWith('file-buffer.js'))).toBe(false);
  });

  it('loads by name from an ES module and from CommonJS', () => {
    const load = (args: string[]) => execFileSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8' }).trim();
    expect(
      load([
        '--input-type=module',
        '-e',
        "import { IngestClient, BufferFullError } from '@redis-ingest/client'; console.log(typeof IngestClient, typeof BufferFullError)",
      ]),
    ).toBe('function function');
    expect(
      load([
        '-e',
        "const { IngestClient } = require('@redis-ingest/client'); const { FileBuffer } = require('@redis-ingest/client/file-buffer'); console.log(typeof IngestClient, typeof FileBuffer)",
      ]),
    ).toBe('function function');
  });
});
