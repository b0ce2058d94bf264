// Runs the e2e test's broker (real broker, TokenReview by the test API server) until killed,
// for measuring the plugin by hand:
//
//   node --import tsx test/credential/serve-e2e-broker.ts DIR
//
// writes DIR/token (an allowed caller's token), DIR/ca.crt (the broker's CA) and DIR/broker-url,
// then prints the plugin's arguments. Not a test (no .test.ts suffix).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createBroker } from '../../src/broker/index.js';
import {
  brokerApp,
  CONTROLLER,
  recordingLogger,
  startHttps,
  testConfig,
  testRegistry,
} from '../broker/helpers.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { makeTestTls } from '../support/test-tls.js';

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? 'e2e-broker');
  await mkdir(dir, { recursive: true });
  const tls = await makeTestTls();
  const api = await TestApiServer.start();
  const caller = serviceAccountToken({ exp: Math.floor(Date.now() / 1000) + 24 * 3600 });
  api.addToken(caller.token, caller.known);
  const https = await startHttps(tls);
  const broker = await createBroker({
    config: testConfig(),
    issuer: https.origin,
    allowedCallers: [CONTROLLER],
    registry: testRegistry(),
    logger: recordingLogger().logger,
    kubeConfig: api.kubeConfig(),
  });
  https.setApp(brokerApp(broker));
  await Promise.all([
    writeFile(join(dir, 'token'), caller.token, { mode: 0o600 }),
    writeFile(join(dir, 'ca.crt'), tls.caPem),
    writeFile(join(dir, 'broker-url'), https.origin),
  ]);
  process.stdout.write(
    `${https.origin} k8s-team-a-dev ${join(dir, 'token')} --ca-file ${join(dir, 'ca.crt')}\n`,
  );
  const stop = async (): Promise<void> => {
    broker.close();
    await https.close();
    await api.close();
    await rm(tls.dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

void main();
