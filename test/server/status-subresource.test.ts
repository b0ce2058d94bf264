/**
 * The ApplicationSet status subresource (webhook-config sends its UPDATEs to /validate):
 * what the API server sends for `PUT .../applicationsets/NAME/status` is judged as any
 * UPDATE, so a non-owner may change nothing of another tenant's ApplicationSet, not its
 * status (SPEC section 4), while its owner and the ApplicationSet controller may.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { defaultPolicy } from '../../src/admission/admit.js';
import { buildApp, reviewBody } from './webhook-app-support.js';

function teamBApplicationSet(status: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'guestbook', namespace: 'team-b', labels: { 'tenantguard.dev/tenant': 'team-b' } },
    spec: {
      goTemplate: true,
      generators: [{ clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-b' } } } }],
      template: {
        metadata: { name: '{{.name}}', labels: { 'tenantguard.dev/tenant': 'team-b' } },
        spec: { project: 'team-b', destination: { server: '{{.server}}', namespace: 'g' } },
      },
    },
    status,
  };
}

describe('ApplicationSet status subresource', () => {
  const { app } = buildApp({ policy: defaultPolicy });
  const statusUpdate = (username: string, groups: string[]) =>
    request(app)
      .post('/validate')
      .send(
        reviewBody({
          operation: 'UPDATE',
          namespace: 'team-b',
          subResource: 'status',
          userInfo: { username, groups },
          oldObject: teamBApplicationSet({ applicationStatus: [{ application: 'a', status: 'Waiting' }] }),
          object: teamBApplicationSet({ applicationStatus: [{ application: 'a', status: 'Healthy' }] }),
        }),
      );

  test("another tenant's user may not write it (TG-OWN-03)", async () => {
    const res = await statusUpdate('alice', ['team-a-admins']);
    assert.equal(res.status, 200);
    assert.equal(res.body.response.allowed, false);
    assert.match(res.body.response.status.message, /^\[TG-OWN-03\]/);
  });

  test('its owner and the ApplicationSet controller may', async () => {
    for (const [user, groups] of [
      ['bob', ['team-b-admins']],
      ['system:serviceaccount:argocd:argocd-applicationset-controller', ['system:serviceaccounts']],
    ] as const) {
      const res = await statusUpdate(user, [...groups]);
      assert.equal(res.body.response.allowed, true, `${user}: ${JSON.stringify(res.body.response.status)}`);
    }
  });
});
