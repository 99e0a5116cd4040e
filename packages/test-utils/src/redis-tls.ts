import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server';

/** PEM files of a throwaway CA, a server certificate for localhost and 127.0.0.1, and a client certificate. */
export interface TlsFiles {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** Removes the files' directory. */
  remove(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA-signed certificate `name`.crt (with its key) carrying the extensions in `extensions`. */
function issue(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  );
}

/** Generates TlsFiles with openssl in a throwaway directory. */
export function makeTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'redis-ingest-tls-'));
  try {
    openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=redis-ingest test CA',
    );
    issue(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue(dir, 'client', '/CN=redis-ingest test client', 'extendedKeyUsage=clientAuth\n');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    caFile: join(dir, 'ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.crt'),
    clientKeyFile: join(dir, 'client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsRedisServer extends RedisServer {
  /** rediss://localhost:<TLS port>; the plain port stays open on 127.0.0.1 for the tests' own checks. */
  readonly tlsUrl: string;
  readonly tlsPort: number;
}

/** A private `redis-server` that also listens for TLS with `files`; clients must show a certificate when `requireClientCertificate`. */
export async function startTlsRedisServer(
  files: TlsFiles,
  {
    requireClientCertificate = false,
    ...options
  }: RedisServerOptions & { readonly requireClientCertificate?: boolean } = {},
): Promise<TlsRedisServer> {
  const tlsPort = await freePort();
  const server = await startRedisServer({
    ...options,
    args: [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      files.serverCertFile,
      '--tls-key-file',
      files.serverKeyFile,
      '--tls-ca-cert-file',
      files.caFile,
      '--tls-auth-clients',
      requireClientCertificate ? 'yes' : 'no',
      ...(options.args ?? []),
    ],
  });
  return Object.assign(server, { tlsPort, tlsUrl: `rediss://localhost:${tlsPort}` });
}
