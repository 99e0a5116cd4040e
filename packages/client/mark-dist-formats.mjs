// The sources compile as CommonJS under jest (no "type" in package.json), so each build says what it is.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('./dist/package.json', import.meta.url), '{ "type": "module" }\n');
writeFileSync(new URL('./dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
