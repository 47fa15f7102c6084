'use strict';
/* global require, module, __dirname, __filename, process */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node before anything is compiled */
/*
 * Builds the `audiences` command line into one CommonJS file with esbuild, so
 * that each run starts in Node alone (no TypeScript compiler at every call).
 *
 *   node cli/build.cjs      # what `npm ci` runs (the package's `prepare` script)
 *
 * The bundle is dist/cli/audiences.cjs; beside it, audiences.inputs.json lists
 * the source files it was built from. cli/bin.cjs rebuilds the bundle when it
 * is missing or older than one of them, so editing the sources needs no
 * manual step either.
 */
const fs = require('node:fs');
const path = require('node:path');
const { freshSince } = require('../scripts/build-inputs.cjs');

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'dist', 'cli');
const BUNDLE = path.join(OUT_DIR, 'audiences.cjs');
const INPUTS = path.join(OUT_DIR, 'audiences.inputs.json');

/** Builds the bundle (synchronously: the launcher waits for it anyway). */
function buildCli() {
  const esbuild = require('esbuild');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: ['cli/main.ts'],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Every dependency is inside: one file to read and parse at start.
    packages: 'bundle',
    metafile: true,
    logLevel: 'error',
    legalComments: 'none',
  });
  const inputs = Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules/'));
  inputs.push(path.relative(ROOT, __filename));
  fs.writeFileSync(INPUTS, `${JSON.stringify({ inputs }, null, 2)}\n`);
  return BUNDLE;
}

/** Whether the bundle is missing, or older than a source file it was built from (or one of them is gone). */
const isStale = () => freshSince(BUNDLE, INPUTS, ROOT) === undefined;

module.exports = { BUNDLE, buildCli, isStale };

if (require.main === module) {
  try {
    buildCli();
  } catch (error) {
    process.stderr.write(`audiences: the command line did not build: ${error && error.message}\n`);
    process.exitCode = 1;
  }
}
