import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freshDatabase, testStoreKind } from './postgres.js';

/** MAIN is the built CLI (npm test builds first: "pretest"). */
export const MAIN = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface Served {
  child: ChildProcess;
  base: string;
  stderr: () => string;
}

/**
 * serveCli starts `dojang serve --data dir` on a free port and resolves with its base URL
 * once it listens; the child is pushed to `children` so that the caller can kill it.
 * o.store: the --store arguments (default: a fresh database under npm run
 * test:postgres, none otherwise); o.args: more arguments.
 */
export async function serveCli(dir: string, children: ChildProcess[], o: { store?: string[]; args?: string[] } = {}): Promise<Served> {
  // Under npm run test:postgres the log goes in a fresh database (DIR keeps the keys).
  const store = o.store ?? (testStoreKind() === 'postgres' ? ['--store', await freshDatabase()] : []);
  const child = spawn(process.execPath, [MAIN, 'serve', '--data', dir, ...store, '--port', '0', ...(o.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, base: m[1], stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}
