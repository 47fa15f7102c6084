#!/usr/bin/env node
'use strict';
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher */
/*
 * The `audiences` executable (package.json "bin"). It runs the bundle that
 * cli/build.cjs makes with esbuild (dist/cli/audiences.cjs, built by
 * `npm ci`), and rebuilds it first when it is missing or older than its
 * sources, so a fresh clone and an edited checkout both just work.
 */
const { BUNDLE, buildCli, isStale } = require('./build.cjs');

if (isStale()) {
  try {
    buildCli();
  } catch (error) {
    const missing = error && error.code === 'MODULE_NOT_FOUND';
    process.stderr.write(
      missing
        ? 'audiences: the dev dependency "esbuild" is missing: run `npm ci` in the repository first\n'
        : `audiences: the command line did not build: ${error && error.message}\n`,
    );
    process.exit(1);
  }
}

const { run } = require(BUNDLE);

// A reader that goes away (`audiences ... | head`) ends the program quietly, as
// it would end any Unix tool, instead of an unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error && error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`audiences: unexpected error${process.env.AUDIENCES_DEBUG ? `: ${error && error.stack}` : ''}\n`);
    process.exitCode = 1;
  },
);
