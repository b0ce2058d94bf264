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
  /** Why it is not ready, for the /readyz body (no secret in it). */
  reason?(): string | undefined;
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
    const failing = checks.filter((c) => !c.ready());
    if (failing.length === 0) {
      res.status(200).json({ status: 'ready' });
      return;
    }
    const reasons: Record<string, string> = {};
    for (const c of failing) {
      const why = c.reason?.();
      if (why !== undefined) reasons[c.name] = why;
    }
    res.status(503).json({
      status: 'not ready',
      waitingFor: failing.map((c) => c.name),
      ...(Object.keys(reasons).length > 0 ? { reasons } : {}),
    });
  });
  return router;
}
