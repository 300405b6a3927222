#!/usr/bin/env node
// Entry point of the `connectors` CLI. Plain JavaScript so that it can explain itself on an old Node.js;
// the rest of the project is TypeScript run by Node.js 24's built-in type stripping.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `connectors needs Node.js 24 (this is ${process.version}). Run it through npm (npm start, npx connectors), ` +
      'which puts the Node.js 24 that the project installs first on PATH.\n',
  );
  process.exit(1);
}
// Node.js keeps what it compiled (the type-stripped TypeScript and V8's code) in NODE_COMPILE_CACHE, or else
// in <tmpdir>/node-compile-cache: later starts are faster and do not load the TypeScript stripper (~17 MiB of
// memory for the life of the process). Where the directory cannot be written, Node.js goes on without it.
const { enableCompileCache } = await import('node:module');
enableCompileCache();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
// A command that has returned is done (servers return once stopped). A handle one of them left open, such as a
// watch reconnect timer, must not keep the CLI alive: give stragglers a moment, then exit.
setTimeout(() => process.exit(), 2000).unref();
