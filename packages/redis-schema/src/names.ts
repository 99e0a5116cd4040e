import { Type, type TString } from '@sinclair/typebox';

/**
 * Sources and metrics become parts of Redis keys and hash tags, so their alphabet excludes everything
 * with a meaning there: `{` `}` (hash tags), `:` (our key separator), spaces, control characters and
 * anything outside ASCII.
 */
const NAME_CHARACTERS = '[A-Za-z0-9_.\\-]+';
export const NAME_PATTERN = `^${NAME_CHARACTERS}$`;
export const NAME_MAX_LENGTH = 128;

/** A series index member, `<source>:<metric>`: what a page of the series list resumes after. */
export const SERIES_MEMBER_PATTERN = `^${NAME_CHARACTERS}:${NAME_CHARACTERS}$`;

const nameRegExp = new RegExp(NAME_PATTERN);

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= NAME_MAX_LENGTH && nameRegExp.test(name);
}

/** The schema of a source, metric or other name wherever a request carries one. */
export function nameSchema(description: string): TString {
  return Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH, pattern: NAME_PATTERN, description });
}
