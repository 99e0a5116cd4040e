import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killWhenOrphaned, terminate } from './child-process';
import { freePort, waitUntil } from './redis-server';

export interface MosquittoBroker {
  readonly url: string;
  readonly port: number;
  /** Stops the broker and removes its directory. */
  stop(): Promise<void>;
}

/** Debian installs the broker in /usr/sbin, which a non-login PATH may lack. */
function mosquittoBinary(): string {
  return spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error === undefined ? 'mosquitto' : '/usr/sbin/mosquitto';
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a private `mosquitto` on a free port with a throwaway directory: anonymous clients, no
 * persistence, so each suite begins with no sessions and no retained messages. The queue per
 * session is unbounded (mosquitto drops QoS 1 messages beyond 1,000 by default), so a test that
 * holds acknowledgements loses nothing to the broker.
 */
export async function startMosquitto(): Promise<MosquittoBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-ingest-mosquitto-'));
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(
    configFile,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 0',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(mosquittoBinary(), ['-c', configFile], { stdio: 'ignore', cwd: dir });
  killWhenOrphaned(child);
  const stop = async () => {
    await terminate(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode}`);
        return accepts(port);
      },
      10_000,
      `mosquitto on port ${port}`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, stop };
}
