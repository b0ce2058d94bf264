/**
 * The tenants every benchmark generates: `team-0..`, each with one namespace, one project,
 * three clusters and two repository patterns (as docs/onboarding.md recommends). A module of its own, so that importing them never pulls in a bench server
 * (bench/webhook-server.ts runs its server when it is the entry point, which it also is for
 * a bundle it is part of).
 */
import { serverKey } from '../src/tenancy/cluster-url.js';
import type { Tenant } from '../src/tenancy/tenant.js';

/** `count` tenants `team-0..`, each with one namespace, one project, three clusters, two patterns. */
export function generatedTenants(count: number): Tenant[] {
  const tenants: Tenant[] = [];
  for (let i = 0; i < count; i++) {
    const name = `team-${i}`;
    tenants.push({
      name,
      owners: { groups: [`${name}-admins`], users: [] },
      namespaces: [name],
      projects: [name],
      sourceRepos: ['https://github.com/example/*', `https://git.example.com/${name}/**`],
      enforcement: 'enforce',
      clusters: ['dev', 'test', 'prod'].map((stage) => {
        const cluster = `k8s-${name}-${stage}`;
        const server = `https://${name}-${stage}.clusters.example.com`;
        return {
          name: cluster,
          server,
          serverKey: serverKey(server),
          audience: cluster,
          subject: `tenantguard:${cluster}`,
          groups: [],
          tokenTTLSeconds: 60,
        };
      }),
    });
  }
  return tenants;
}
