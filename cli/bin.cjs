#!/usr/bin/env node
'use strict';
/* global require, process, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher */
/*
 * The `audiences` executable (package.json "bin"). It runs the TypeScript
 * sources through tsx's require hook, so `npx audiences ...` works right after
 * `npm ci` with no build step.
 */
const path = require('node:path');

let register;
try {
  ({ register } = require('tsx/cjs/api'));
} catch {
  process.stderr.write('audiences: the dev dependency "tsx" is missing: run `npm ci` in the repository first\n');
  process.exit(1);
}
register();

const { run } = require(path.join(__dirname, 'main.ts'));

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
