/**
 * Stand-alone entry of the exec credential plugin: what `scripts/build-plugin.mjs` bundles
 * into the single executable `tenant-guard-credential` (no Node.js needed where it runs),
 * and what `node --import tsx src/credential/main.ts BROKER TARGET TOKEN_FILE` runs in
 * development. Kept free of the CLI framework and logger so that it starts fast.
 */
import { runCredential } from './run.js';

void runCredential(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
});
