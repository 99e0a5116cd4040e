// tsc copies only TypeScript output; the Lua scripts must sit beside the compiled modules that load them.
const fs = require('node:fs');
const path = require('node:path');

const [from, to, extension] = process.argv.slice(2);
function copy(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const source = path.join(dir, entry.name);
    if (entry.isDirectory()) copy(source);
    else if (entry.name.endsWith(`.${extension}`)) {
      const target = path.join(to, path.relative(from, source));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(source, target);
    }
  }
}
copy(from);
