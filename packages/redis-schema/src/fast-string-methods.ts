/**
 * node-redis declares `class VerbatimString extends String`. When String.prototype becomes the
 * prototype of that new class, V8 turns it into a dictionary of properties, ready for the new ones a
 * freshly set-up prototype usually gets, and it stays so: every string method call
 * (charCodeAt, indexOf, slice, startsWith) then looks its method up in that dictionary instead of
 * being inlined. In a process that had loaded node-redis a charCodeAt loop ran four times slower and the
 * line-protocol parser two and a half times slower.
 *
 * V8 makes a prototype fast again when an inline cache first records a property load through an
 * object that inherits from it, so this module loads node-redis first and then does exactly that, once,
 * for every process that imports this package.
 */
import '@redis/client';

const inheritsString: unknown = Object.create(String.prototype);
const loadThroughPrototype = (target: unknown) => (target as { charCodeAt: unknown }).charCodeAt;
// V8 gives a function inline caches only after its first few calls (eight by default); a hundred are plenty.
for (let load = 0; load < 100; load += 1) loadThroughPrototype(inheritsString);
