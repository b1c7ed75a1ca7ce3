#!/usr/bin/env node
// A native-solc-compatible front for solc-js, so brownie (py-solc-x) and ezkl compile offline.
// Answers the two calls they make: `--version` and `--standard-json` (JSON on stdin/stdout).
// Usage: solc-shim.js <solc-js package dir> [--version | --standard-json]
'use strict';
const path = require('path');

const pkgDir = process.argv[2];
const args = process.argv.slice(3);
const solc = require(path.resolve(pkgDir));

// Exit only after stdout has drained: exiting right after write() truncates pipes at 64 KiB.
function finish(text, code) {
  process.stdout.write(text, () => process.exit(code));
}

if (args.includes('--version')) {
  const full = solc.version(); // e.g. 0.8.28+commit.7893614a.Emscripten.clang
  const short = full.replace(/\.Emscripten.*$/, '');
  finish(`solc, the solidity compiler commandline interface\nVersion: ${short}.Linux.g++\n`, 0);
} else if (args.includes('--standard-json')) {
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    const input = Buffer.concat(chunks).toString('utf8');
    const baseDir = (() => {
      const i = args.indexOf('--base-path');
      return i >= 0 ? args[i + 1] : process.cwd();
    })();
    const fs = require('fs');
    // Resolve imports from disk the way the native compiler does with --base-path/--allow-paths.
    const findImports = (p) => {
      for (const cand of [p, path.join(baseDir, p)]) {
        try { return { contents: fs.readFileSync(cand, 'utf8') }; } catch (e) { /* next */ }
      }
      return { error: `File not found: ${p}` };
    };
    finish(solc.compile(input, { import: findImports }), 0);
  });
} else {
  process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
  process.exit(2);
}
