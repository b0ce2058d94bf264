/**
 * The token broker (SPEC sections 6 and 7): what `tenant-guard serve` wires.
 */
export { Broker, type TokenOutcome } from './broker.js';
export { createBroker, MAX_TOKEN_TTL_SECONDS, type CreateBrokerOptions } from './create-broker.js';
export { createBrokerRouter } from './router.js';
export {
  brokerFlags,
  parseBrokerOptions,
  parseDuration,
  validateBrokerConfig,
  type BrokerConfig,
  type BrokerFlag,
  type KeyStoreConfig,
  type SigningAlg,
} from './options.js';
export { MemoryKeyStore, type KeyStore } from './keys/key-store.js';
export { DirectoryKeyStore } from './keys/key-store-directory.js';
export { SecretKeyStore } from './keys/key-store-secret.js';
export type { TokenReviewer, ReviewOutcome } from './callers/token-review.js';
export { brokerComponent } from './serve-component.js';
export { createBrokerMetrics, type BrokerMetrics } from './broker-metrics.js';
