/**
 * Influx line protocol, scanned one character at a time: a regular expression per line would cost
 * more than the whole scan and could not say where a line went wrong.
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * A newline always ends a line, even inside a quoted string: an unterminated quote costs its own
 * line, not every line after it.
 */

export type LineField =
  | { readonly key: string; readonly kind: 'float' | 'integer' | 'unsigned'; readonly value: number }
  | { readonly key: string; readonly kind: 'boolean'; readonly value: boolean }
  | { readonly key: string; readonly kind: 'string'; readonly value: string };

export interface ParsedLine {
  /** 1-based, counting every line of the body, blank ones and comments included. */
  readonly line: number;
  readonly measurement: string;
  readonly tags: readonly (readonly [key: string, value: string])[];
  readonly fields: readonly LineField[];
  /** The timestamp's digits as sent (an int64 does not fit a JS number); undefined when absent. */
  readonly timestamp: string | undefined;
}

export interface LineError {
  readonly line: number;
  readonly message: string;
}

export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

const CARRIAGE_RETURN = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const MINUS = 45;
const EQUALS = 61;
const BACKSLASH = 92;
const INTEGER_SUFFIX = 105;
const UNSIGNED_SUFFIX = 117;

const isDigit = (code: number) => code >= 48 && code <= 57;

/** Where a name token stops, and whether it held escapes to undo. */
interface Token {
  readonly end: number;
  readonly escaped: boolean;
}

/**
 * Scans a measurement, tag key, tag value or field key from `start`. A backslash escapes a comma, a
 * space, a backslash and (outside measurements) an equals sign; before anything else it is literal.
 */
function scanName(text: string, start: number, end: number, escapesEquals: boolean, stopsAtEquals: boolean): Token {
  let i = start;
  let escaped = false;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH && i + 1 < end) {
      if (escapableInName(text.charCodeAt(i + 1), escapesEquals)) {
        escaped = true;
        i += 2;
        continue;
      }
    }
    if (code === COMMA || code === SPACE || (stopsAtEquals && code === EQUALS)) break;
    i += 1;
  }
  return { end: i, escaped };
}

const escapableInName = (code: number, escapesEquals: boolean) =>
  code === COMMA || code === SPACE || code === BACKSLASH || (escapesEquals && code === EQUALS);
const escapableInString = (code: number) => code === QUOTE || code === BACKSLASH;

/** Drops each backslash that escapes an escapable character; any other backslash stays. */
function unescape(text: string, start: number, end: number, escapable: (code: number) => boolean): string {
  let out = '';
  let from = start;
  for (let i = start; i < end - 1; i += 1) {
    if (text.charCodeAt(i) !== BACKSLASH || !escapable(text.charCodeAt(i + 1))) continue;
    out += text.slice(from, i);
    from = i + 1;
    i += 1;
  }
  return out + text.slice(from, end);
}

function nameAt(text: string, start: number, token: Token, escapesEquals: boolean): string {
  return token.escaped
    ? unescape(text, start, token.end, (code) => escapableInName(code, escapesEquals))
    : text.slice(start, token.end);
}

const BOOLEANS: Readonly<Record<string, boolean>> = {
  t: true,
  T: true,
  true: true,
  True: true,
  TRUE: true,
  f: false,
  F: false,
  false: false,
  False: false,
  FALSE: false,
};

const INT64_MAX = 9_223_372_036_854_775_807n;
const UINT64_MAX = 18_446_744_073_709_551_615n;

/** Whether `text[start, end)` is digits only, at least one. */
function allDigits(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i += 1) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

const PLUS = 43;
const POINT = 46;
const isExponent = (code: number) => code === 101 || code === 69;
/** t, T, f and F: the first letters of every boolean spelling. */
const startsBoolean = (code: number) => code === 116 || code === 84 || code === 102 || code === 70;

/** `[+-]digits[.digits][e[+-]digits]`, with digits on at least one side of the point. */
function isFloatSyntax(token: string): boolean {
  const n = token.length;
  let i = token.charCodeAt(0) === MINUS || token.charCodeAt(0) === PLUS ? 1 : 0;
  let digits = 0;
  while (i < n && isDigit(token.charCodeAt(i))) {
    i += 1;
    digits += 1;
  }
  if (token.charCodeAt(i) === POINT) {
    i += 1;
    while (i < n && isDigit(token.charCodeAt(i))) {
      i += 1;
      digits += 1;
    }
  }
  if (digits === 0) return false;
  if (i === n) return true;
  if (!isExponent(token.charCodeAt(i))) return false;
  i += 1;
  if (token.charCodeAt(i) === PLUS || token.charCodeAt(i) === MINUS) i += 1;
  return allDigits(token, i, n);
}

function parseFieldValue(key: string, token: string): LineField | string {
  if (token.length === 0) return `field "${key}" has no value`;
  if (startsBoolean(token.charCodeAt(0))) {
    const boolean = BOOLEANS[token];
    return boolean === undefined ? `field "${key}": invalid value ${token}` : { key, kind: 'boolean', value: boolean };
  }
  const last = token.charCodeAt(token.length - 1);
  if (last === INTEGER_SUFFIX) {
    const sign = token.charCodeAt(0) === MINUS ? 1 : 0;
    if (!allDigits(token, sign, token.length - 1)) return `field "${key}": invalid integer ${token}`;
    const digits = token.length - 1 - sign;
    if (digits >= 19 && BigInt(token.slice(sign, -1)) > INT64_MAX + BigInt(sign))
      return `field "${key}": integer ${token} is out of range`;
    return { key, kind: 'integer', value: Number(token.slice(0, -1)) };
  }
  if (last === UNSIGNED_SUFFIX) {
    if (!allDigits(token, 0, token.length - 1)) return `field "${key}": invalid unsigned integer ${token}`;
    if (token.length - 1 >= 20 && BigInt(token.slice(0, -1)) > UINT64_MAX)
      return `field "${key}": unsigned integer ${token} is out of range`;
    return { key, kind: 'unsigned', value: Number(token.slice(0, -1)) };
  }
  if (!isFloatSyntax(token)) return `field "${key}": invalid value ${token}`;
  const value = Number(token);
  if (!Number.isFinite(value)) return `field "${key}": float ${token} is out of range`;
  return { key, kind: 'float', value };
}

/** A key that appears twice; the common handful of keys is compared pairwise, more go through a set. */
function duplicateKey<T>(items: readonly T[], keyOf: (item: T) => string): string | undefined {
  if (items.length <= 8) {
    for (let i = 1; i < items.length; i += 1) {
      for (let j = 0; j < i; j += 1) if (keyOf(items[i]!) === keyOf(items[j]!)) return keyOf(items[i]!);
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const item of items) {
    const key = keyOf(item);
    if (seen.has(key)) return key;
    seen.add(key);
  }
  return undefined;
}

/** One line from `start` to `end` (without its newline), already known to be neither blank nor a comment. */
function parseLine(text: string, start: number, end: number, line: number): ParsedLine | string {
  const measurementToken = scanName(text, start, end, false, false);
  if (measurementToken.end === start) return 'missing measurement';
  const measurement = nameAt(text, start, measurementToken, false);
  let i = measurementToken.end;

  const tags: [string, string][] = [];
  while (i < end && text.charCodeAt(i) === COMMA) {
    const keyStart = i + 1;
    const keyToken = scanName(text, keyStart, end, true, true);
    if (keyToken.end === keyStart) return 'missing tag key';
    if (text.charCodeAt(keyToken.end) !== EQUALS || keyToken.end >= end)
      return `tag "${nameAt(text, keyStart, keyToken, true)}" has no value`;
    const valueStart = keyToken.end + 1;
    const valueToken = scanName(text, valueStart, end, true, false);
    if (valueToken.end === valueStart) return `tag "${nameAt(text, keyStart, keyToken, true)}" has no value`;
    tags.push([nameAt(text, keyStart, keyToken, true), nameAt(text, valueStart, valueToken, true)]);
    i = valueToken.end;
  }

  while (i < end && text.charCodeAt(i) === SPACE) i += 1;
  if (i >= end) return 'missing fields';

  const fields: LineField[] = [];
  for (;;) {
    const keyStart = i;
    const keyToken = scanName(text, keyStart, end, true, true);
    if (keyToken.end === keyStart) return 'missing field key';
    const key = nameAt(text, keyStart, keyToken, true);
    if (keyToken.end >= end || text.charCodeAt(keyToken.end) !== EQUALS) return `field "${key}" has no value`;
    i = keyToken.end + 1;
    if (i < end && text.charCodeAt(i) === QUOTE) {
      let close = i + 1;
      let escaped = false;
      while (close < end) {
        const code = text.charCodeAt(close);
        if (code === BACKSLASH && close + 1 < end) {
          escaped = true;
          close += 2;
        } else if (code === QUOTE) break;
        else close += 1;
      }
      if (close >= end) return `field "${key}": unterminated string`;
      fields.push({
        key,
        kind: 'string',
        value: escaped ? unescape(text, i + 1, close, escapableInString) : text.slice(i + 1, close),
      });
      i = close + 1;
      if (i < end && text.charCodeAt(i) !== COMMA && text.charCodeAt(i) !== SPACE)
        return `field "${key}": unexpected text after the closing quote`;
    } else {
      let valueEnd = i;
      while (valueEnd < end && text.charCodeAt(valueEnd) !== COMMA && text.charCodeAt(valueEnd) !== SPACE)
        valueEnd += 1;
      const field = parseFieldValue(key, text.slice(i, valueEnd));
      if (typeof field === 'string') return field;
      fields.push(field);
      i = valueEnd;
    }
    if (i < end && text.charCodeAt(i) === COMMA) {
      i += 1;
      continue;
    }
    break;
  }

  while (i < end && text.charCodeAt(i) === SPACE) i += 1;
  let timestamp: string | undefined;
  if (i < end) {
    let timestampEnd = i;
    while (timestampEnd < end && text.charCodeAt(timestampEnd) !== SPACE) timestampEnd += 1;
    const sign = text.charCodeAt(i) === MINUS ? 1 : 0;
    if (!allDigits(text, i + sign, timestampEnd)) return `invalid timestamp ${text.slice(i, timestampEnd)}`;
    timestamp = text.slice(i, timestampEnd);
    for (let rest = timestampEnd; rest < end; rest += 1) {
      if (text.charCodeAt(rest) !== SPACE) return 'unexpected text after the timestamp';
    }
  }

  const duplicateTag = duplicateKey(tags, ([key]) => key);
  if (duplicateTag !== undefined) return `tag "${duplicateTag}" appears twice`;
  const duplicateField = duplicateKey(fields, ({ key }) => key);
  if (duplicateField !== undefined) return `field "${duplicateField}" appears twice`;
  return { line, measurement, tags, fields, timestamp };
}

/** Every line of a body: the ones that parse, and the reason for each one that does not. */
export function parseLineProtocol(text: string): { lines: ParsedLine[]; errors: LineError[] } {
  const lines: ParsedLine[] = [];
  const errors: LineError[] = [];
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    line += 1;
    const newline = text.indexOf('\n', start);
    const next = newline === -1 ? text.length + 1 : newline + 1;
    let end = newline === -1 ? text.length : newline;
    if (end > start && text.charCodeAt(end - 1) === CARRIAGE_RETURN) end -= 1;
    let first = start;
    while (first < end && (text.charCodeAt(first) === SPACE || text.charCodeAt(first) === TAB)) first += 1;
    if (first < end && text.charCodeAt(first) !== HASH) {
      const parsed = parseLine(text, first, end, line);
      if (typeof parsed === 'string') errors.push({ line, message: parsed });
      else lines.push(parsed);
    }
    start = next;
  }
  return { lines, errors };
}

const MS_PER_UNIT: Readonly<Record<Precision, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** The latest instant a JS Date holds. */
const MAX_DATE_MS = 8.64e15;

/**
 * A timestamp in whole milliseconds (finer digits are cut off, never rounded across the float error
 * of a 19-digit number), or undefined when it lies before 1970 or beyond what a date can hold.
 */
export function timestampMs(digits: string, precision: Precision): number | undefined {
  if (digits.charCodeAt(0) === MINUS || digits.length > 19) return undefined;
  const perUnit = MS_PER_UNIT[precision];
  let ms: number;
  if (perUnit < 1) {
    const cut = precision === 'ns' ? 6 : 3;
    ms = digits.length <= cut ? 0 : Number(digits.slice(0, digits.length - cut));
  } else ms = Number(digits) * perUnit;
  return ms <= MAX_DATE_MS ? ms : undefined;
}
