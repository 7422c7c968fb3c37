import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { freePort, pollUntil } from './http';

/** True when a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('which', ['redis-server'], { stdio: 'ignore' }).status === 0;
}

/** A throwaway redis-server on a free loopback port, with no persistence. */
export interface LocalRedis {
  url: string;
  /** A client of the test's own; it reconnects by itself after a restart. */
  client: Redis;
  /** Stops the server (an outage); `restart` brings it back on the same port, empty. */
  kill: () => Promise<void>;
  restart: () => Promise<void>;
  /** The end: the client closed and the server stopped. Safe to call more than once. */
  stop: () => Promise<void>;
}

export async function startRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const spawnServer = () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const p = proc;
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  };
  const kill = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
  };
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  const answering = () =>
    pollUntil(10_000, `redis-server on port ${port} answering`, async () => {
      try {
        return (await client.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      }
    });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
      await kill();
    })());
  spawnServer();
  try {
    await answering();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    client,
    kill,
    restart: async () => {
      await kill();
      spawnServer();
      await answering();
    },
    stop,
  };
}
