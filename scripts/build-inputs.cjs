'use strict';
/* global module, require */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node before anything is compiled */
/*
 * What the build scripts (cli/build.cjs, web/build.cjs) share: whether a
 * build is still newer than every source file it lists as its inputs.
 */
const fs = require('node:fs');
const path = require('node:path');

/**
 * When `builtFile` was written (mtime, ms), or undefined when it must be
 * built again: it is missing, `inputsFile` (JSON `{ inputs: [paths relative
 * to root] }`) cannot be read, or one of the inputs is newer or gone.
 */
function freshSince(builtFile, inputsFile, root) {
  let builtAt;
  let inputs;
  try {
    builtAt = fs.statSync(builtFile).mtimeMs;
    inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8')).inputs;
  } catch {
    return undefined;
  }
  for (const input of inputs) {
    try {
      if (fs.statSync(path.join(root, input)).mtimeMs > builtAt) return undefined;
    } catch {
      return undefined;
    }
  }
  return builtAt;
}

module.exports = { freshSince };
