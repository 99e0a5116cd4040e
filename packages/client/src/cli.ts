#!/usr/bin/env node
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { IngestClient, type Rejection } from './index.ts';
import { FileBuffer } from './file-buffer.ts';
import { parseCsv, parseNdjson, type ParsedLine } from './parse.ts';

const USAGE = `Usage: redis-ingest send [file] --url <ingest-api URL> [options]

Sends the events of an NDJSON or CSV file (or of stdin, without a file or with -) to the ingest-api,
retrying until each is accepted or refused for good. Refused lines are printed to stderr as JSON.

Options:
  --url <url>            the ingest-api, e.g. http://localhost:8080 (required)
  --token-file <path>    a file holding the device key (keeps it out of the process list)
  --token <key>          the device key itself
  --format ndjson|csv    default: csv for a .csv file, else ndjson
  --batch-events <n>     events per request (default 500)
  --batch-bytes <n>      uncompressed bytes per request (default 524288)
  --concurrency <n>      requests in flight (default 1, which keeps each source in order)
  --buffer-dir <dir>     keep taken events on disk, so a rerun after a crash resends them
  --quiet                no progress on stderr

Exit status: 0 when every event was accepted, 1 when some were refused, 2 on a usage error.`;

class UsageError extends Error {}

function positiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new UsageError(`--${name} must be a positive integer, not "${text}"`);
  return value;
}

/** Progress on stderr: a bar redrawn in place on a terminal, a line every few seconds into a file or pipe. */
class Progress {
  private readonly startedAt = Date.now();
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  bytesRead = 0;

  constructor(
    private readonly client: IngestClient,
    private readonly totalBytes: number | undefined,
    enabled: boolean,
  ) {
    const tty = process.stderr.isTTY === true;
    if (enabled) this.timer = setInterval(() => this.draw(tty), tty ? 250 : 5_000);
  }

  private line(): string {
    const { accepted, rejected, buffered, lastError } = this.client.metrics();
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = Math.round(accepted / Math.max(seconds, 0.001));
    const share = this.totalBytes ? Math.min(1, this.bytesRead / this.totalBytes) : undefined;
    const bar =
      share === undefined
        ? ''
        : `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '.')}] ${(share * 100).toFixed(0).padStart(3)}% `;
    const failing = lastError && Date.now() - lastError.atMs < 2_000 ? ` retrying: ${lastError.message}` : '';
    return `${bar}${accepted} accepted, ${rejected} refused, ${buffered} in flight, ${rate}/s${failing}`;
  }

  draw(tty: boolean): void {
    process.stderr.write(tty ? `\r\x1b[K${this.line()}` : `${this.line()}\n`);
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.draw(false);
  }
}

async function send(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      format: { type: 'string' },
      'batch-events': { type: 'string' },
      'batch-bytes': { type: 'string' },
      concurrency: { type: 'string' },
      'buffer-dir': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.url) throw new UsageError('--url is required');
  if (positionals.length > 1) throw new UsageError('give at most one file');
  const file = positionals[0] === '-' ? undefined : positionals[0];
  const format = values.format ?? (file?.endsWith('.csv') ? 'csv' : 'ndjson');
  if (format !== 'ndjson' && format !== 'csv') throw new UsageError(`--format must be ndjson or csv, not "${format}"`);
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : values.token;

  const maxBatchEvents = positiveInteger('batch-events', values['batch-events']);
  const maxBatchBytes = positiveInteger('batch-bytes', values['batch-bytes']);
  const concurrency = positiveInteger('concurrency', values.concurrency);
  const client = new IngestClient({
    url: values.url,
    ...(token ? { token } : {}),
    ...(maxBatchEvents ? { maxBatchEvents } : {}),
    ...(maxBatchBytes ? { maxBatchBytes } : {}),
    ...(concurrency ? { concurrency } : {}),
    ...(values['buffer-dir'] ? { journal: new FileBuffer({ directory: values['buffer-dir'] }) } : {}),
  });
  // eventIds name the input line, so a refusal can point at it.
  const run = crypto.randomUUID().slice(0, 8);
  const lineOf = (eventId: string) => Number(eventId.slice(run.length + 1)) || null;
  const report = (entry: object) => process.stderr.write(`${JSON.stringify(entry)}\n`);
  let refused = 0;
  client.on('rejected', ({ event, status, message, errors }: Rejection) => {
    refused++;
    report({
      line: event.eventId.startsWith(`${run}-`) ? lineOf(event.eventId) : null,
      eventId: event.eventId,
      status,
      error: message,
      errors,
    });
  });

  const input = file ? createReadStream(file) : process.stdin;
  const progress = new Progress(client, file ? statSync(file).size : undefined, !values.quiet);
  async function* counted(): AsyncIterable<Uint8Array> {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      progress.bytesRead += chunk.length;
      yield chunk;
    }
  }
  const parse = format === 'csv' ? parseCsv : parseNdjson;
  async function* events() {
    for await (const parsed of parse(counted()) as AsyncIterable<ParsedLine>) {
      if ('error' in parsed) {
        refused++;
        report({ line: parsed.line, error: parsed.error });
      } else yield { ...parsed.event, eventId: parsed.event.eventId ?? `${run}-${parsed.line}` };
    }
  }

  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    input.destroy();
  };
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  try {
    await client.sendAll(events());
  } catch (error) {
    if (!interrupted) throw error;
  } finally {
    const { undelivered } = await client.close(interrupted ? { timeoutMs: 5_000 } : {});
    progress.stop();
    if (undelivered.length > 0) {
      process.stderr.write(
        `${undelivered.length} events not delivered${values['buffer-dir'] ? ', kept in the buffer directory for the next run' : ''}\n`,
      );
    }
  }
  return refused > 0 || interrupted ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === 'send') return await send(args);
    if (command === undefined || command === '--help' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`redis-ingest: ${(error as Error).message}\n${usage ? `\n${USAGE}\n` : ''}`);
    return usage ? 2 : 1;
  }
}

void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
