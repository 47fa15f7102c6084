'use strict';
/* global require, module, __dirname, __filename, process */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node before anything is compiled */
/*
 * Builds the web app into static files with esbuild: TypeScript and JSX
 * (Preact) bundled and minified, split so that what one page needs loads
 * with it (the business console, the message crypto and the OIDC client are
 * chunks of their own), names with content hashes, and index.html pointing
 * at them.
 *
 *   node web/build.cjs      # what `npm ci` runs (the package's `prepare` script)
 *
 * The output is dist/web/; beside the files, build.json lists the source
 * files it was built from and the size of every file. `npm start` and the
 * CDK app rebuild it when it is missing or older than one of its sources.
 * Nothing here reaches the network.
 */
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { freshSince } = require('../scripts/build-inputs.cjs');

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'dist', 'web');
const MANIFEST = path.join(OUT_DIR, 'build.json');
const TEMPLATE = path.join(__dirname, 'index.html');

/** Browsers with WebCrypto X25519, which the inbox's keys need (client/README.md). */
const TARGET = ['chrome133', 'edge133', 'firefox130', 'safari17.4'];

/** Builds dist/web from web/src (synchronously: whoever calls it waits anyway). Returns the manifest. */
function buildWeb() {
  const esbuild = require('esbuild');
  // Built beside the old files and swapped in at the end, so a server reading dist/web meanwhile never sees half a build.
  const staging = `${OUT_DIR}.build-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const manifest = buildInto(esbuild, staging);
  const previous = `${OUT_DIR}.old-${process.pid}`;
  if (fs.existsSync(OUT_DIR)) fs.renameSync(OUT_DIR, previous);
  fs.renameSync(staging, OUT_DIR);
  fs.rmSync(previous, { recursive: true, force: true });
  return manifest;
}

/** One build into `outDir`; returns its manifest. */
function buildInto(esbuild, outDir) {
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: { app: 'web/src/main.tsx' },
    outdir: path.join(outDir, 'assets'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: TARGET,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'error',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    // The CLI's CSV parser, in the build its authors make for browsers (Node's Buffer included).
    alias: { 'csv-parse/sync': 'csv-parse/browser/esm/sync' },
  });

  const outputs = Object.entries(result.metafile.outputs);
  const entry = outputs.find(([, output]) => output.entryPoint === 'web/src/main.tsx');
  if (!entry) throw new Error('esbuild produced no entry bundle');
  const [entryFile, entryOutput] = entry;
  const href = (file) => `/${path.relative(outDir, path.join(ROOT, file)).split(path.sep).join('/')}`;
  const css = entryOutput.cssBundle ? href(entryOutput.cssBundle) : undefined;
  const html = fs
    .readFileSync(TEMPLATE, 'utf8')
    .replace('<!-- app:css -->', css ? `<link rel="stylesheet" href="${css}" />` : '')
    .replace('<!-- app:js -->', `<script type="module" src="${href(entryFile)}"></script>`);
  fs.writeFileSync(path.join(outDir, 'index.html'), html);

  const files = {};
  for (const file of listFiles(outDir)) {
    const relative = path.relative(outDir, file).split(path.sep).join('/');
    if (relative === 'build.json') continue;
    const bytes = fs.readFileSync(file);
    files[relative] = { bytes: bytes.length, gzipBytes: zlib.gzipSync(bytes, { level: 9 }).length };
  }
  // What a first visit downloads: the entry, every chunk it imports statically, and the stylesheet; the rest loads with its page.
  const initial = new Set();
  const visit = (file) => {
    if (initial.has(file)) return;
    initial.add(file);
    for (const imported of result.metafile.outputs[file].imports) if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(entryFile);
  if (entryOutput.cssBundle) initial.add(entryOutput.cssBundle);
  const inputs = Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules/'));
  inputs.push(path.relative(ROOT, TEMPLATE), path.relative(ROOT, __filename));
  const manifest = {
    entry: href(entryFile).slice(1),
    ...(css ? { css: css.slice(1) } : {}),
    initial: [...initial].map((file) => href(file).slice(1)),
    files,
    inputs,
  };
  fs.writeFileSync(path.join(outDir, 'build.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function listFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full) : [full];
  });
}

/** Whether dist/web is missing, or older than a source file it was built from (or one of them is gone). */
function isStale() {
  const builtAt = freshSince(MANIFEST, MANIFEST, ROOT);
  if (builtAt === undefined) return true;
  // A new source file is not in the list yet: any file under web/src newer than the build counts.
  return listFiles(path.join(__dirname, 'src')).some((file) => fs.statSync(file).mtimeMs > builtAt);
}

/** dist/web, rebuilt first when stale. */
function ensureWeb() {
  if (isStale()) buildWeb();
  return OUT_DIR;
}

module.exports = { OUT_DIR, MANIFEST, buildWeb, isStale, ensureWeb };

if (require.main === module) {
  try {
    const manifest = buildWeb();
    const total = Object.values(manifest.files).reduce((sum, file) => sum + (file.gzipBytes || 0), 0);
    if (process.argv.includes('--verbose'))
      process.stdout.write(`web app built in dist/web (${Object.keys(manifest.files).length} files, ${total} bytes gzipped)\n`);
  } catch (error) {
    process.stderr.write(`web: the web app did not build: ${error && error.message}\n`);
    process.exitCode = 1;
  }
}
