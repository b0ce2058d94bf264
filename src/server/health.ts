/**
 * `GET /healthz` (the process answers: always 200) and `GET /readyz` (200 once every
 * readiness check passes, 503 before, naming what is not ready). Other components (the
 * broker's key ring, a Tenant watch) add their own checks.
 */
import { Router } from 'express';
import type { RegistryProvider } from '../tenancy/registry.js';

/** One thing that must hold before the server takes traffic. */
export interface ReadinessCheck {
  /** Shown in the /readyz body, e.g. `tenant-registry`. */
  readonly name: string;
  ready(): boolean;
}

/** Ready once the provider has a registry (SPEC section 6: 503 until it is loaded). */
export function registryReadiness(provider: RegistryProvider): ReadinessCheck {
  return { name: 'tenant-registry', ready: () => provider.current() !== undefined };
}

/** The router of /healthz and /readyz. */
export function healthRouter(checks: readonly ReadinessCheck[]): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const notReady = checks.filter((c) => !c.ready()).map((c) => c.name);
    if (notReady.length === 0) res.status(200).json({ status: 'ready' });
    else res.status(503).json({ status: 'not ready', waitingFor: notReady });
  });
  return router;
}
