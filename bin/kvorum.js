#!/usr/bin/env node
// The `kvorum` command: runs the compiled CLI from ../dist (written by `npm run build`).
import process from 'node:process';

let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  // Only a missing build gets the friendly line; any other failure is a bug worth its stack.
  if (/Cannot find module '[^']*dist[\\/]cli[\\/]main\.js'/.test(String(err && err.message))) {
    process.stderr.write(
      'kvorum: the CLI is not built yet; run npm run build (or npm start) first\n',
    );
    process.exit(1);
  }
  throw err;
}
await cli.main(process.argv.slice(2));
