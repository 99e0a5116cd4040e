import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const PACKAGE_DIR = join(__dirname, '..');

/** Whether String.prototype has fast properties in a fresh Node process once `modulePath` is loaded. */
function stringPrototypeIsFastAfterLoading(modulePath: string): boolean {
  const script = `require(${JSON.stringify(modulePath)}); process.stdout.write(String(%HasFastProperties(String.prototype)));`;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' }) === 'true';
}

describe('string methods in a process that loads node-redis', () => {
  it('lose their fast lookup when node-redis alone is loaded', () => {
    expect(stringPrototypeIsFastAfterLoading(require.resolve('@redis/client', { paths: [PACKAGE_DIR] }))).toBe(false);
  });

  it('keep it once this package is loaded (the build of it)', () => {
    expect(stringPrototypeIsFastAfterLoading(join(PACKAGE_DIR, 'dist', 'index.js'))).toBe(true);
  });
});
