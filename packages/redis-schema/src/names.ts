/**
 * Sources and metrics become parts of Redis keys and hash tags, so their alphabet excludes everything
 * with a meaning there: `{` `}` (hash tags), `:` (our key separator), spaces, control characters and
 * anything outside ASCII.
 */
export const NAME_PATTERN = '^[A-Za-z0-9_.\\-]+$';
export const NAME_MAX_LENGTH = 128;

const nameRegExp = new RegExp(NAME_PATTERN);

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= NAME_MAX_LENGTH && nameRegExp.test(name);
}
