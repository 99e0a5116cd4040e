// The sources compile as CommonJS under jest (no "type" here), while dist/ is ES modules for every runtime.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('./dist/package.json', import.meta.url), '{ "type": "module" }\n');
