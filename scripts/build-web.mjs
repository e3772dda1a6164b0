#!/usr/bin/env node
/**
 * build-web bundles the verifier page (GET /verify, docs/api.md) for browsers: esbuild
 * turns src/web/verify-page.ts and everything it imports into one minified ES module,
 * dist/web/verify.js, and src/web/verify.html and verify.css are copied next to it.
 * `npm run build` runs it after tsc; src/api/web.ts serves the three files.
 *
 * No Node.js in the bundle:
 *  - src/core/crypto.ts imports ./crypto-node.js (node:crypto) at run time, and only
 *    under Node: here that module is replaced by one that throws if it is ever loaded
 *    (the browser uses the @noble backend);
 *  - any other `node:` import fails the build, and so does a bare built-in (esbuild's
 *    browser platform cannot resolve them); the inputs are checked once more after.
 * No eval: cbor-x probes for `new Function` when it loads, which the page's
 * Content-Security-Policy refuses (and reports as a violation). As cbor-x's own no-eval
 * build does, its calls of `new Function(` become calls of `BlockedFunction(` (never
 * defined: they throw, and cbor-x falls back to code without eval).
 *
 * Usage: node scripts/build-web.mjs (from anywhere). Prints the bundle's size.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'web');
const STATIC = ['verify.html', 'verify.css'];
/** The bundle must stay below this (bytes, minified): a page at a counter loads it on every visit. */
const BUDGET = 400 * 1024;

/** nodeFree keeps Node.js out of the bundle (module comment). */
const nodeFree = {
  name: 'node-free',
  setup(b) {
    const cryptoFacade = join('src', 'core', 'crypto.ts');
    b.onResolve({ filter: /^\.\/crypto-node\.js$/ }, (args) => (args.importer.endsWith(cryptoFacade) ? { path: 'crypto-node', namespace: 'no-node' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'no-node' }, () => ({
      contents: "throw new Error('crypto-node.js is for Node.js only: a browser uses the portable backend');",
      loader: 'js',
    }));
    b.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} must not be in the browser bundle (imported by ${relative(ROOT, args.importer)})` }],
    }));
  },
};

/** noEval replaces cbor-x's `new Function(` (module comment). */
const noEval = {
  name: 'no-eval',
  setup(b) {
    b.onLoad({ filter: /[\\/]cbor-x[\\/]decode\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8');
      if (!src.includes("new Function('')")) {
        return { errors: [{ text: "cbor-x/decode.js no longer probes with new Function(''): check scripts/build-web.mjs against the new cbor-x" }] };
      }
      return { contents: src.replaceAll('new Function(', 'BlockedFunction('), loader: 'js' };
    });
  },
};

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [join('src', 'web', 'verify-page.ts')],
  outfile: join(OUT, 'verify.js'),
  bundle: true,
  format: 'esm', // src/core/crypto.ts has a top-level await
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  charset: 'utf8',
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [nodeFree, noEval],
});

const inputs = Object.keys(result.metafile.inputs);
const leaked = inputs.filter((p) => p.startsWith('node:') || p.split(sep).join('/').endsWith('src/core/crypto-node.ts'));
if (leaked.length > 0) throw new Error(`build-web: Node.js modules in the browser bundle: ${leaked.join(', ')}`);

await mkdir(OUT, { recursive: true });
for (const f of STATIC) await copyFile(join(ROOT, 'src', 'web', f), join(OUT, f));

const bundle = await readFile(join(OUT, 'verify.js'));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`build-web: dist/web/verify.js ${kib(bundle.length)} (gzip ${kib(gzipSync(bundle).length)}) from ${inputs.length} modules; ${STATIC.join(', ')} copied`);
if (bundle.length > BUDGET) throw new Error(`build-web: the bundle is ${kib(bundle.length)}, over its budget of ${kib(BUDGET)}`);
