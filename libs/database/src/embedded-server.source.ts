/**
 * The embedded database process, run as `node -e` so it needs no build step and no file of its
 * own in dist/. Arguments: one JSON job (module paths resolved by the parent, data location, lock
 * file, template, the unix socket to serve on and whether its directory is temporary). It serves
 * on that socket only, never on TCP: the parent made its directory 0700, so only the platform's
 * OS user (and root) can connect. It answers on IPC with `{ ready: socketPath }` or `{ error }`,
 * and stops when the platform says so or goes away (the IPC channel closes); signals sent to the
 * whole process group (Ctrl-C, a supervisor) are left to the platform, which still needs the
 * database to drain.
 */
export const EMBEDDED_SERVER_SOURCE = String.raw`
'use strict';
const fs = require('node:fs');
const job = JSON.parse(process.argv[1]);
const { PGlite } = require(job.modules.pglite);
const { PGLiteSocketServer } = require(job.modules.socket);
const { pg_trgm } = require(job.modules.trgm);
process.title = 'mcp-platform-db';
const send = (message, then) => (process.connected ? process.send(message, then) : then && then());
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function takeLock(lock) {
  // The process of a platform that was killed may still be closing these files.
  for (let attempt = 0; ; attempt++) {
    let pid = 0;
    try { pid = Number(fs.readFileSync(lock, 'utf8')); } catch {}
    if (!pid || pid === process.pid || !alive(pid)) break;
    if (attempt === 100) throw new Error('the embedded database files are still in use by process ' + pid);
    await new Promise((r) => setTimeout(r, 100));
  }
  fs.writeFileSync(lock, String(process.pid));
}

async function main() {
  const extensions = { pg_trgm };
  if (job.dump) {
    const db = await PGlite.create('memory://', { extensions });
    const dump = await db.dumpDataDir('none');
    await db.close();
    const tmp = job.dump + '.' + process.pid;
    fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(tmp, job.dump);
    return send({ dumped: true }, () => process.exit(0));
  }
  if (!job.socket || !job.socket.path) throw new Error('no unix socket path for the embedded database');
  if (job.lock) await takeLock(job.lock);
  const options = { extensions };
  if (job.template) options.loadDataDir = new Blob([fs.readFileSync(job.template)]);
  const db = await PGlite.create(job.location, options);
  const socketPath = job.socket.path;
  // A socket left by a database process that was killed (the lock above says it is gone).
  fs.rmSync(socketPath, { force: true });
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 16 });
  // The directory already keeps other users out; the umask keeps the socket owner-only from the
  // moment it is bound, and the chmod says so explicitly.
  const umask = process.umask(0o077);
  try {
    await server.start();
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(socketPath, 0o600);
  let stopping;
  const stop = () => (stopping ??= (async () => {
    try {
      await server.stop();
      await db.close();
    } finally {
      if (job.lock) fs.rmSync(job.lock, { force: true });
      fs.rmSync(job.socket.temporary ? job.socket.dir : socketPath, { recursive: true, force: true });
      process.exit(0);
    }
  })());
  process.on('message', (m) => m === 'stop' && stop());
  // The platform is gone (it crashed, or failed during boot): nobody waits for this stop, and a
  // stop that hangs on the dead client's connections must not leave this process behind.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 10000).unref();
    stop();
  });
  send({ ready: socketPath });
}

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
main().catch((err) => send({ error: String((err && err.message) || err) }, () => process.exit(1)));
`;
