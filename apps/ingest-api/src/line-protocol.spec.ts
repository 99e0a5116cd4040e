import fc from 'fast-check';
import { parseLineProtocol, type LineError, type ParsedLine, type Precision } from './line-protocol';

/** Every point of a body and every line refused, as a visitor that takes each point would see them. */
function parseAll(body: string, precision: Precision = 'ns'): { lines: ParsedLine[]; errors: LineError[] } {
  const lines: ParsedLine[] = [];
  const errors = parseLineProtocol(body, precision, (point) => {
    lines.push(point);
    return undefined;
  });
  return { lines, errors };
}

function parseOne(line: string, precision: Precision = 'ns'): ParsedLine {
  const { lines, errors } = parseAll(line, precision);
  expect(errors).toEqual([]);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

function errorOf(line: string, precision: Precision = 'ns'): string {
  const { lines, errors } = parseAll(line, precision);
  expect(lines).toEqual([]);
  expect(errors).toHaveLength(1);
  return errors[0]!.message;
}

describe('parseLineProtocol', () => {
  it('reads measurement, tags, fields and timestamp', () => {
    expect(parseOne('weather,location=us-midwest,season=summer temperature=82 1465839830100400200')).toEqual({
      line: 1,
      measurement: 'weather',
      tags: [
        ['location', 'us-midwest'],
        ['season', 'summer'],
      ],
      fields: [{ key: 'temperature', kind: 'float', value: 82 }],
      timestampMs: 1465839830100,
    });
  });

  it('takes a line without tags or timestamp', () => {
    expect(parseOne('cpu usage=0.5,idle=99.5')).toEqual({
      line: 1,
      measurement: 'cpu',
      tags: [],
      fields: [
        { key: 'usage', kind: 'float', value: 0.5 },
        { key: 'idle', kind: 'float', value: 99.5 },
      ],
      timestampMs: undefined,
    });
  });

  // The escaping cases of the line-protocol reference.
  it.each([
    ['a comma in the measurement', 'wea\\,ther temp=1', 'wea,ther'],
    ['a space in the measurement', 'wea\\ ther temp=1', 'wea ther'],
    ['an equals sign in the measurement, unescaped', 'wea=ther temp=1', 'wea=ther'],
    ['a backslash before another character in the measurement', 'wea\\ther temp=1', 'wea\\ther'],
    ['two backslashes in the measurement', 'wea\\\\ther temp=1', 'wea\\ther'],
    ['emoji in the measurement', 'wea🌡ther temp=1', 'wea🌡ther'],
  ])('unescapes %s', (_name, line, measurement) => {
    expect(parseOne(line).measurement).toBe(measurement);
  });

  it.each([
    ['a comma', 'm,ta\\,g=v\\,al f=1', ['ta,g', 'v,al']],
    ['an equals sign', 'm,ta\\=g=v\\=al f=1', ['ta=g', 'v=al']],
    ['a space', 'm,ta\\ g=v\\ al f=1', ['ta g', 'v al']],
    ['a backslash before an ordinary character', 'm,t\\ag=v\\al f=1', ['t\\ag', 'v\\al']],
    ['three backslashes', 'm,t=a\\\\\\b f=1', ['t', 'a\\\\b']],
  ])('unescapes %s in tag keys and values', (_name, line, tag) => {
    expect(parseOne(line).tags).toEqual([tag]);
  });

  it.each([
    ['a comma', 'm fi\\,eld=1', 'fi,eld'],
    ['an equals sign', 'm fi\\=eld=1', 'fi=eld'],
    ['a space', 'm fi\\ eld=1', 'fi eld'],
  ])('unescapes %s in field keys', (_name, line, key) => {
    expect(parseOne(line).fields[0]!.key).toBe(key);
  });

  it.each([
    ['a plain string', 'm s="hello"', 'hello'],
    ['an escaped quote', 'm s="say \\"hi\\""', 'say "hi"'],
    ['an escaped backslash', 'm s="a\\\\b"', 'a\\b'],
    ['a backslash before another character', 'm s="a\\nb"', 'a\\nb'],
    ['commas, spaces and equals signs', 'm s="a, b = c"', 'a, b = c'],
    ['an empty string', 'm s=""', ''],
  ])('reads a quoted string field with %s', (_name, line, value) => {
    expect(parseOne(line).fields).toEqual([{ key: 's', kind: 'string', value }]);
  });

  it('reads fields after a quoted string', () => {
    expect(parseOne('m s="x,y z",n=2i 10').fields).toEqual([
      { key: 's', kind: 'string', value: 'x,y z' },
      { key: 'n', kind: 'integer', value: 2 },
    ]);
  });

  it.each([
    ['1', 'float', 1],
    ['-1.5', 'float', -1.5],
    ['+2', 'float', 2],
    ['.5', 'float', 0.5],
    ['5.', 'float', 5],
    ['1e3', 'float', 1000],
    ['-1.2E-2', 'float', -0.012],
    ['1.7976931348623157e308', 'float', 1.7976931348623157e308],
    ['42i', 'integer', 42],
    ['-42i', 'integer', -42],
    ['9223372036854775807i', 'integer', 2 ** 63],
    ['-9223372036854775808i', 'integer', -(2 ** 63)],
    ['42u', 'unsigned', 42],
    ['18446744073709551615u', 'unsigned', 2 ** 64],
    ['00000000000000000000000042i', 'integer', 42],
  ])('reads the number %s', (token, kind, value) => {
    expect(parseOne(`m f=${token}`).fields).toEqual([{ key: 'f', kind, value }]);
  });

  it.each(['t', 'T', 'true', 'True', 'TRUE'])('reads %s as true', (token) => {
    expect(parseOne(`m f=${token}`).fields).toEqual([{ key: 'f', kind: 'boolean', value: true }]);
  });

  it.each(['f', 'F', 'false', 'False', 'FALSE'])('reads %s as false', (token) => {
    expect(parseOne(`m f=${token}`).fields).toEqual([{ key: 'f', kind: 'boolean', value: false }]);
  });

  it.each([
    ['a missing measurement', ',t=v f=1', 'missing measurement'],
    ['no fields', 'm', 'missing fields'],
    ['tags but no fields', 'm,t=v', 'missing fields'],
    ['tags then a space only', 'm,t=v   ', 'missing fields'],
    ['a tag without a value', 'm,t= f=1', 'tag "t" has no value'],
    ['a tag without an equals sign', 'm,t f=1', 'tag "t" has no value'],
    ['an empty tag key', 'm,=v f=1', 'missing tag key'],
    ['a field without a value', 'm f=', 'field "f" has no value'],
    ['a field without an equals sign', 'm f', 'field "f" has no value'],
    ['an empty field key', 'm =1', 'missing field key'],
    ['a trailing comma after the fields', 'm f=1,', 'missing field key'],
    ['an unterminated string', 'm s="abc', 'field "s": unterminated string'],
    ['a string ending in an escaped quote', 'm s="abc\\"', 'field "s": unterminated string'],
    ['text after the closing quote', 'm s="a"b', 'field "s": unexpected text after the closing quote'],
    ['an unquoted word', 'm f=hello', 'field "f": invalid value hello'],
    ['NaN', 'm f=NaN', 'field "f": invalid value NaN'],
    ['Inf', 'm f=Inf', 'field "f": invalid value Inf'],
    ['hex', 'm f=0x10', 'field "f": invalid value 0x10'],
    ['a lone sign', 'm f=-', 'field "f": invalid value -'],
    ['an exponent without digits', 'm f=1e', 'field "f": invalid value 1e'],
    ['a float over the double range', 'm f=1e400', 'field "f": float 1e400 is out of range'],
    ['a float integer', 'm f=1.5i', 'field "f": invalid integer 1.5i'],
    ['an integer over int64', 'm f=9223372036854775808i', 'field "f": integer 9223372036854775808i is out of range'],
    ['an integer under int64', 'm f=-9223372036854775809i', 'field "f": integer -9223372036854775809i is out of range'],
    ['a negative unsigned', 'm f=-1u', 'field "f": invalid unsigned integer -1u'],
    [
      'an integer of a million digits',
      `m f=${'9'.repeat(1_000_000)}i`,
      `field "f": integer ${'9'.repeat(1_000_000)}i is out of range`,
    ],
    [
      'an unsigned over uint64',
      'm f=18446744073709551616u',
      'field "f": unsigned integer 18446744073709551616u is out of range',
    ],
    ['a timestamp that is not a number', 'm f=1 12a', 'invalid timestamp 12a'],
    ['a float timestamp', 'm f=1 1.5', 'invalid timestamp 1.5'],
    ['text after the timestamp', 'm f=1 1 2', 'unexpected text after the timestamp'],
    ['a duplicate tag', 'm,t=a,t=b f=1', 'tag "t" appears twice'],
    ['a duplicate field', 'm f=1,f=2', 'field "f" appears twice'],
  ])('rejects %s', (_name, line, message) => {
    expect(errorOf(line)).toBe(message);
  });

  it('skips comments and blank lines, takes CRLF and counts every line', () => {
    const body = '# a comment\r\n\r\n  \r\nm f=1\r\n   # indented comment\r\nm f=2 5\r\nbad\r\n\tm f=3\r\n';
    const { lines, errors } = parseAll(body, 'ms');
    expect(lines.map(({ line, fields, timestampMs }) => [line, fields[0]!.value, timestampMs])).toEqual([
      [4, 1, undefined],
      [6, 2, 5],
      [8, 3, undefined],
    ]);
    expect(errors).toEqual([{ line: 7, message: 'missing fields' }]);
  });

  it('keeps a carriage return inside a line as part of it', () => {
    expect(errorOf('m f=1\r2')).toBe('field "f": invalid value 1\r2');
  });

  it('confines an unterminated quote to its own line', () => {
    const { lines, errors } = parseAll('m s="open\nm f=1\nm s="a" 2');
    expect(errors).toEqual([{ line: 1, message: 'field "s": unterminated string' }]);
    expect(lines.map(({ line }) => line)).toEqual([2, 3]);
  });

  it('parses a line of a million tags in linear time', () => {
    const tags = Array.from({ length: 1_000_000 }, (_, i) => `,t${i}=v`).join('');
    const started = Date.now();
    const point = parseOne(`m${tags} f=1`);
    expect(point.tags).toHaveLength(1_000_000);
    expect(point.tags[999_999]).toEqual(['t999999', 'v']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('parses a 16 MB line and a body of 100,000 lines', () => {
    const huge = parseOne(`m s="${'x'.repeat(16 * 1_048_576)}"`);
    expect(huge.fields[0]!.value).toHaveLength(16 * 1_048_576);
    const body = Array.from({ length: 100_000 }, (_, i) => `cpu,host=h${i % 7} usage=${i} ${i}`).join('\n');
    const { lines, errors } = parseAll(body, 'ms');
    expect(errors).toEqual([]);
    expect(lines).toHaveLength(100_000);
    expect(lines[99_999]!.timestampMs).toBe(99_999);
  });

  it('reads a line of a body exactly as it reads that line alone, whatever the lines before it', () => {
    // Few characters, most of them special, so that names repeat from line to line with and without escapes.
    const lineOf = fc
      .array(fc.constantFrom('m', 'n', 't', 'f', '1', '\\', ',', ' ', '=', '"', 'm,t=a f=1', 'm f=1 2'), {
        maxLength: 12,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.array(lineOf, { minLength: 1, maxLength: 8 }), (lines) => {
        const alone = lines.map((line, index) => {
          const { lines: points, errors } = parseAll(line);
          return {
            points: points.map((point) => ({ ...point, line: index + 1 })),
            errors: errors.map((error) => ({ ...error, line: index + 1 })),
          };
        });
        expect(parseAll(lines.join('\n'))).toEqual({
          lines: alone.flatMap(({ points }) => points),
          errors: alone.flatMap(({ errors }) => errors),
        });
      }),
      { seed: 14, numRuns: 3_000 },
    );
  });

  it('finds nothing in an empty body or one of comments', () => {
    expect(parseAll('')).toEqual({ lines: [], errors: [] });
    expect(parseAll('# only\n\n# comments\n')).toEqual({ lines: [], errors: [] });
  });
});

describe('timestamps', () => {
  it.each([
    ['1465839830100400200', 'ns', 1465839830100],
    ['1465839830100999999', 'ns', 1465839830100],
    ['999999', 'ns', 0],
    ['0', 'ns', 0],
    ['1465839830100400', 'us', 1465839830100],
    ['1465839830100', 'ms', 1465839830100],
    ['1465839830', 's', 1465839830000],
    ['24430663', 'm', 1465839780000],
    ['407177', 'h', 1465837200000],
    ['253402300799999999999', 'ns', undefined],
    ['253402300799999999', 'us', 253402300799999],
    ['253402300799999', 'ms', 253402300799999],
    ['253402300799', 's', 253402300799000],
  ] as const)('reads %s at precision %s', (digits, precision, ms) => {
    if (ms === undefined) expect(errorOf(`m f=1 ${digits}`, precision)).toMatch(/^timestamp /);
    else expect(parseOne(`m f=1 ${digits}`, precision).timestampMs).toBe(ms);
  });

  it.each([
    ['-1', 'ns'],
    ['-1465839830', 's'],
    ['99999999999999999999', 'ns'],
    ['9000000000000000', 'ms'],
    ['9223372036854775807', 's'],
    // The first millisecond of the year 10000, which the event rule refuses.
    ['253402300800000', 'ms'],
    ['253402300800', 's'],
  ] as const)('refuses %s at precision %s as before 1970 or after the year 9999', (digits, precision) => {
    expect(errorOf(`m f=1 ${digits}`, precision)).toBe(
      `timestamp ${digits} (precision ${precision}) is before 1970 or after the year 9999`,
    );
  });

  it('reads any timestamp of up to 19 digits as its digits cut to whole milliseconds', () => {
    const precisions = fc.constantFrom<Precision>('ns', 'us', 'ms', 's', 'm', 'h');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 9_223_372_036_854_775_807n }), precisions, (timestamp, precision) => {
        const perUnit = {
          ns: [1_000_000n, 1n],
          us: [1_000n, 1n],
          ms: [1n, 1n],
          s: [1n, 1_000n],
          m: [1n, 60_000n],
          h: [1n, 3_600_000n],
        }[precision];
        const ms = (timestamp / perUnit[0]!) * perUnit[1]!;
        const { lines, errors } = parseAll(`m f=1 ${timestamp}`, precision);
        if (ms <= 253_402_300_799_999n) expect(lines[0]?.timestampMs).toBe(Number(ms));
        else expect(errors).toHaveLength(1);
      }),
      { seed: 14, numRuns: 2_000 },
    );
  });
});

describe('numbers', () => {
  it('reads every float as Number() reads its text', () => {
    const decimal = fc
      .tuple(
        fc.constantFrom('', '-', '+'),
        fc.stringMatching(/^[0-9]{0,20}$/),
        fc.option(fc.stringMatching(/^[0-9]{0,20}$/)),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '-', '+'), fc.integer({ min: 0, max: 400 }))),
      )
      .map(([sign, whole, fraction, exponent]) => {
        const point = fraction === null ? '' : `.${fraction}`;
        const power = exponent === null ? '' : `${exponent[0]}${exponent[1]}${exponent[2]}`;
        return `${sign}${whole}${point}${power}`;
      })
      .filter((token) => /[0-9]/.test(token.split(/[eE]/)[0]!));
    const printed = fc.double({ noNaN: true, noDefaultInfinity: true }).map(String);
    fc.assert(
      fc.property(fc.oneof(decimal, printed), (token) => {
        const { lines, errors } = parseAll(`m f=${token}`);
        const expected = Number(token);
        if (Number.isFinite(expected))
          expect(lines[0]?.fields[0]).toEqual({ key: 'f', kind: 'float', value: expected });
        else expect(errors[0]?.message).toBe(`field "f": float ${token} is out of range`);
      }),
      { seed: 14, numRuns: 5_000 },
    );
  });
});
