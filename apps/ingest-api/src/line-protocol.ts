/**
 * Influx line protocol, scanned one character at a time: a regular expression per line would cost
 * more than the whole scan and could not say where a line went wrong.
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * A newline always ends a line, even inside a quoted string: an unterminated quote costs its own
 * line, not every line after it.
 */

import { LAST_TIMESTAMP_MS } from '@redis-ingest/redis-schema';

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
  /** In whole milliseconds at the request's precision; undefined when the line has none. */
  readonly timestampMs: number | undefined;
}

export interface LineError {
  readonly line: number;
  readonly message: string;
}

export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

/** What becomes of a parsed point: undefined when it is taken, else why the whole line is refused. */
export type PointVisitor = (point: ParsedLine) => string | undefined;

const CARRIAGE_RETURN = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const POINT = 46;
const ZERO = 48;
const EQUALS = 61;
const BACKSLASH = 92;
const INTEGER_SUFFIX = 105;
const UNSIGNED_SUFFIX = 117;

const isExponent = (code: number) => code === 101 || code === 69;
/** t, T, f and F: the first letters of every boolean spelling. */
const startsBoolean = (code: number) => code === 116 || code === 84 || code === 102 || code === 70;
const escapableInName = (code: number, escapesEquals: boolean) =>
  code === COMMA || code === SPACE || code === BACKSLASH || (escapesEquals && code === EQUALS);
const isQuoteEscape = (code: number) => code === QUOTE || code === BACKSLASH;
const isNameEscape = (code: number) => escapableInName(code, false);
const isKeyEscape = (code: number) => escapableInName(code, true);

/** The value of `text[start, end)` as digits, or -1 when any is not one; exact up to 15 digits. */
function digitsValue(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Powers of ten a double holds exactly. */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, power) => 10 ** power);
/** Digits whose value is an exact double whatever they are (10^15 < 2^53). */
const EXACT_DIGITS = 15;

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

/**
 * The magnitude of an `i` or `u` field, its digits `text[start, end)` (no sign, no suffix): undefined
 * when there are none or something else is among them, NaN past the 64-bit `limit`. Up to 15 digits
 * are read exactly as they are scanned; longer ones are held against the limit before Number() rounds
 * them, and past 20 significant digits they are out of range without asking BigInt to read them.
 */
function integerAt(text: string, start: number, end: number, limit: bigint): number | undefined {
  if (start >= end) return undefined;
  const value = digitsValue(text, start, end);
  if (value < 0) return undefined;
  if (end - start <= EXACT_DIGITS) return value;
  let first = start;
  while (first < end - 1 && text.charCodeAt(first) === ZERO) first += 1;
  if (end - first > 20) return Number.NaN;
  const digits = text.slice(first, end);
  return BigInt(digits) > limit ? Number.NaN : Number(digits);
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

const tagKey = ([key]: readonly [string, string]) => key;
const fieldKey = ({ key }: LineField) => key;

/** Per precision: the digits finer than a millisecond, cut off, and the milliseconds of a unit of what is left. */
const UNITS: Readonly<Record<Precision, { readonly cut: number; readonly ms: number }>> = {
  ns: { cut: 6, ms: 1 },
  us: { cut: 3, ms: 1 },
  ms: { cut: 0, ms: 1 },
  s: { cut: 0, ms: 1_000 },
  m: { cut: 0, ms: 60_000 },
  h: { cut: 0, ms: 3_600_000 },
};

/** An int64 has at most 19 digits. */
const TIMESTAMP_MAX_DIGITS = 19;

/**
 * Whether `text` holds `part` from `start` on. Names are a handful of characters, which compare here
 * faster than through a call to startsWith: the bench's lines parsed 8% faster.
 */
function holdsAt(text: string, start: number, part: string): boolean {
  for (let i = 0; i < part.length; i += 1) if (text.charCodeAt(start + i) !== part.charCodeAt(i)) return false;
  return true;
}

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

/**
 * Reads the points of one body. A body repeats its measurements, tag keys and field keys line after
 * line, so each name is first compared with the one in its place on the line before: a match costs
 * one native comparison instead of a scan and a new string.
 */
class BodyReader {
  /** Where the name or timestamp last read stops. */
  private stop = 0;
  /** Whether the name last read held no backslash at all, so the next line may take it as it is. */
  private plain = false;
  private measurement = '';
  private readonly tagKeys: string[] = [];
  private readonly fieldKeys: string[] = [];

  constructor(
    private readonly text: string,
    private readonly precision: Precision,
  ) {}

  /**
   * The name (measurement, tag key or value, field key) from `start`, unescaped; it ends at
   * `this.stop`. A backslash escapes a comma, a space, a backslash and (outside measurements) an
   * equals sign; before anything else it is literal. `known` is the name in this place on the line
   * before, '' for none.
   */
  private name(start: number, end: number, known: string, escapesEquals: boolean, stopsAtEquals: boolean): string {
    const { text } = this;
    const after = start + known.length;
    if (known !== '' && after <= end && holdsAt(text, start, known)) {
      const code = after < end ? text.charCodeAt(after) : SPACE;
      if (code === COMMA || code === SPACE || (stopsAtEquals && code === EQUALS)) {
        this.stop = after;
        this.plain = true;
        return known;
      }
    }
    let i = start;
    let escaped = false;
    this.plain = true;
    while (i < end) {
      const code = text.charCodeAt(i);
      if (code === BACKSLASH) {
        this.plain = false;
        if (i + 1 < end && escapableInName(text.charCodeAt(i + 1), escapesEquals)) {
          escaped = true;
          i += 2;
          continue;
        }
      }
      if (code === COMMA || code === SPACE || (stopsAtEquals && code === EQUALS)) break;
      i += 1;
    }
    this.stop = i;
    if (!escaped) return text.slice(start, i);
    return unescape(text, start, i, escapesEquals ? isKeyEscape : isNameEscape);
  }

  /**
   * The number `[+-]digits[.digits][e[+-]digits]` from `start`, digits on at least one side of the
   * point, ending at `this.stop`, the first character that is no part of it; undefined when there is
   * none. Up to 15 digits and a power of ten up to 22 take one exact multiplication or division,
   * rounded as Number() rounds; anything longer goes to Number().
   */
  private decimal(start: number, end: number): number | undefined {
    const { text } = this;
    let i = start;
    const sign = start < end ? text.charCodeAt(start) : 0;
    const negative = sign === MINUS;
    if (negative || sign === PLUS) i += 1;
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    let afterPoint = false;
    for (; i < end; i += 1) {
      const code = text.charCodeAt(i);
      const digit = code - 48;
      if (digit >= 0 && digit <= 9) {
        mantissa = mantissa * 10 + digit;
        digits += 1;
        if (afterPoint) scale += 1;
      } else if (code === POINT && !afterPoint) afterPoint = true;
      else break;
    }
    this.stop = i;
    if (digits === 0) return undefined;
    let power = -scale;
    if (i < end && isExponent(text.charCodeAt(i))) {
      i += 1;
      const exponentSign = i < end ? text.charCodeAt(i) : 0;
      if (exponentSign === PLUS || exponentSign === MINUS) i += 1;
      const exponentStart = i;
      let exponent = 0;
      for (; i < end; i += 1) {
        const digit = text.charCodeAt(i) - 48;
        if (digit < 0 || digit > 9) break;
        // Only its size matters past 22, where Number() takes over; capped so it stays a small integer.
        exponent = Math.min(exponent * 10 + digit, 1_000_000);
      }
      this.stop = i;
      if (i === exponentStart) return undefined;
      power += exponentSign === MINUS ? -exponent : exponent;
    }
    if (digits > EXACT_DIGITS || power < -22 || power > 22) return Number(text.slice(start, i));
    const magnitude = power < 0 ? mantissa / EXACT_POWERS_OF_TEN[-power]! : mantissa * EXACT_POWERS_OF_TEN[power]!;
    return negative ? -magnitude : magnitude;
  }

  /** The unquoted field value from `start`, ending at `this.stop`. */
  private fieldValue(key: string, start: number, end: number): LineField | string {
    const { text } = this;
    // Nearly every value is a plain number followed by a comma, a space or the line's end.
    const number = this.decimal(start, end);
    const after = this.stop;
    if (
      number !== undefined &&
      (after === end || text.charCodeAt(after) === COMMA || text.charCodeAt(after) === SPACE)
    ) {
      if (!Number.isFinite(number)) return `field "${key}": float ${text.slice(start, after)} is out of range`;
      return { key, kind: 'float', value: number };
    }
    let valueEnd = after;
    while (valueEnd < end && text.charCodeAt(valueEnd) !== COMMA && text.charCodeAt(valueEnd) !== SPACE) valueEnd += 1;
    this.stop = valueEnd;
    if (valueEnd === start) return `field "${key}" has no value`;
    const first = text.charCodeAt(start);
    if (startsBoolean(first)) {
      const token = text.slice(start, valueEnd);
      const boolean = BOOLEANS[token];
      return boolean === undefined
        ? `field "${key}": invalid value ${token}`
        : { key, kind: 'boolean', value: boolean };
    }
    const last = text.charCodeAt(valueEnd - 1);
    if (last === INTEGER_SUFFIX) {
      const negative = first === MINUS;
      // int64 reaches one further below zero than above.
      const value = integerAt(text, negative ? start + 1 : start, valueEnd - 1, negative ? INT64_MAX + 1n : INT64_MAX);
      if (value === undefined) return `field "${key}": invalid integer ${text.slice(start, valueEnd)}`;
      if (Number.isNaN(value)) return `field "${key}": integer ${text.slice(start, valueEnd)} is out of range`;
      return { key, kind: 'integer', value: negative ? -value : value };
    }
    if (last === UNSIGNED_SUFFIX) {
      const value = integerAt(text, start, valueEnd - 1, UINT64_MAX);
      if (value === undefined) return `field "${key}": invalid unsigned integer ${text.slice(start, valueEnd)}`;
      if (Number.isNaN(value)) return `field "${key}": unsigned integer ${text.slice(start, valueEnd)} is out of range`;
      return { key, kind: 'unsigned', value };
    }
    return `field "${key}": invalid value ${text.slice(start, valueEnd)}`;
  }

  /**
   * The timestamp from `start` in whole milliseconds, ending at `this.stop`: the digits finer than a
   * millisecond are cut off, never rounded across the float error of a 19-digit number. Undefined
   * when it is not an integer; NaN before 1970 or past the year 9999, which the event rule refuses.
   */
  private timestampMs(start: number, end: number): number | undefined {
    const { text } = this;
    let i = start;
    const negative = text.charCodeAt(i) === MINUS;
    if (negative) i += 1;
    const digitsStart = i;
    let value = 0;
    let valid = true;
    for (; i < end; i += 1) {
      const code = text.charCodeAt(i);
      if (code === SPACE) break;
      const digit = code - 48;
      if (digit < 0 || digit > 9) valid = false;
      value = value * 10 + digit;
    }
    this.stop = i;
    if (!valid || i === digitsStart) return undefined;
    const unit = UNITS[this.precision];
    const digits = i - digitsStart;
    const kept = digits - unit.cut;
    let ms: number;
    // Past 16 digits of milliseconds is past the year 9999 before any rounding could matter.
    if (negative || digits > TIMESTAMP_MAX_DIGITS || kept > 16) return Number.NaN;
    if (kept <= 0) ms = 0;
    // Exact below 16 digits, and no quotient of them by 10^6 lies close enough to a whole number to round onto it.
    else if (digits <= EXACT_DIGITS) ms = Math.floor(value / EXACT_POWERS_OF_TEN[unit.cut]!) * unit.ms;
    else ms = digitsValue(text, digitsStart, digitsStart + kept) * unit.ms;
    return ms <= LAST_TIMESTAMP_MS ? ms : Number.NaN;
  }

  /** One line from `start` to `end` (without its newline), already known to be neither blank nor a comment. */
  line(start: number, end: number, line: number): ParsedLine | string {
    const { text } = this;
    const measurement = this.name(start, end, this.measurement, false, false);
    if (this.stop === start) return 'missing measurement';
    this.measurement = this.plain ? measurement : '';
    let i = this.stop;

    const tags: [string, string][] = [];
    while (i < end && text.charCodeAt(i) === COMMA) {
      const keyStart = i + 1;
      const key = this.name(keyStart, end, this.tagKeys[tags.length] ?? '', true, true);
      const keyEnd = this.stop;
      if (keyEnd === keyStart) return 'missing tag key';
      this.tagKeys[tags.length] = this.plain ? key : '';
      if (keyEnd >= end || text.charCodeAt(keyEnd) !== EQUALS) return `tag "${key}" has no value`;
      const valueStart = keyEnd + 1;
      const value = this.name(valueStart, end, '', true, false);
      if (this.stop === valueStart) return `tag "${key}" has no value`;
      tags.push([key, value]);
      i = this.stop;
    }

    while (i < end && text.charCodeAt(i) === SPACE) i += 1;
    if (i >= end) return 'missing fields';

    const fields: LineField[] = [];
    for (;;) {
      const keyStart = i;
      const key = this.name(keyStart, end, this.fieldKeys[fields.length] ?? '', true, true);
      const keyEnd = this.stop;
      if (keyEnd === keyStart) return 'missing field key';
      this.fieldKeys[fields.length] = this.plain ? key : '';
      if (keyEnd >= end || text.charCodeAt(keyEnd) !== EQUALS) return `field "${key}" has no value`;
      i = keyEnd + 1;
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
          value: escaped ? unescape(text, i + 1, close, isQuoteEscape) : text.slice(i + 1, close),
        });
        i = close + 1;
        if (i < end && text.charCodeAt(i) !== COMMA && text.charCodeAt(i) !== SPACE)
          return `field "${key}": unexpected text after the closing quote`;
      } else {
        const field = this.fieldValue(key, i, end);
        if (typeof field === 'string') return field;
        fields.push(field);
        i = this.stop;
      }
      if (i < end && text.charCodeAt(i) === COMMA) {
        i += 1;
        continue;
      }
      break;
    }

    while (i < end && text.charCodeAt(i) === SPACE) i += 1;
    let timestampMs: number | undefined;
    if (i < end) {
      timestampMs = this.timestampMs(i, end);
      if (timestampMs === undefined) return `invalid timestamp ${text.slice(i, this.stop)}`;
      for (let rest = this.stop; rest < end; rest += 1) {
        if (text.charCodeAt(rest) !== SPACE) return 'unexpected text after the timestamp';
      }
      if (Number.isNaN(timestampMs))
        return `timestamp ${text.slice(i, this.stop)} (precision ${this.precision}) is before 1970 or after the year 9999`;
    }

    const duplicateTag = duplicateKey(tags, tagKey);
    if (duplicateTag !== undefined) return `tag "${duplicateTag}" appears twice`;
    const duplicateField = duplicateKey(fields, fieldKey);
    if (duplicateField !== undefined) return `field "${duplicateField}" appears twice`;
    return { line, measurement, tags, fields, timestampMs };
  }
}

/**
 * Parses a body line by line, handing each point to `visit` as soon as it is read, and returns the
 * lines refused, by the parser or by `visit`, in line order.
 */
export function parseLineProtocol(text: string, precision: Precision, visit: PointVisitor): LineError[] {
  const errors: LineError[] = [];
  const reader = new BodyReader(text, precision);
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
      const parsed = reader.line(first, end, line);
      const refused = typeof parsed === 'string' ? parsed : visit(parsed);
      if (refused !== undefined) errors.push({ line, message: refused });
    }
    start = next;
  }
  return errors;
}
