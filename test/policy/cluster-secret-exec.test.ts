/**
 * TG-CS-04 on a platform Secret, through checkPlatformExec on a config read by readExec: the
 * denial lines of an exec call and of an `awsAuthConfig` that match no exec profile name
 * each profile of their command and where the call departs from it, in one wording.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPlatformExec } from '../../src/policy/cluster-secret-exec.js';
import { readExec } from '../../src/policy/cluster-secret-exec-reading.js';
import { resolveSettings } from '../../src/settings.js';

const settings = resolveSettings({
  execProfiles: JSON.stringify([
    {
      name: 'gke',
      command: '/usr/local/bin/gke-gcloud-auth-plugin',
      apiVersion: 'client.authentication.k8s.io/v1beta1',
    },
    {
      name: 'gke-v1',
      command: '/usr/local/bin/gke-gcloud-auth-plugin',
      apiVersion: 'client.authentication.k8s.io/v1',
    },
    {
      name: 'eks',
      command: 'argocd-k8s-auth',
      args: ['aws'],
      extraArgs: '--cluster-name|--role-arn|[a-z0-9]+',
    },
  ]),
});

function lines(config: Record<string, unknown>): string[] {
  return checkPlatformExec(readExec(config, []), 'platform', settings).map((v) => v.message);
}

describe('checkPlatformExec: a call that matches no profile', () => {
  test('execProviderConfig: each profile of its command, and where the call departs from it', () => {
    assert.deepEqual(
      lines({
        execProviderConfig: {
          command: '/usr/local/bin/gke-gcloud-auth-plugin',
          args: ['--verbose'],
          apiVersion: 'client.authentication.k8s.io/v1beta1',
        },
      }),
      [
        `data.config.execProviderConfig matches no exec profile: gke: args go on past [], which the profile does not allow; gke-v1: args go on past [], which the profile does not allow`,
      ],
    );
  });

  test('awsAuthConfig: the argocd-k8s-auth aws profiles, in the same wording', () => {
    assert.deepEqual(lines({ awsAuthConfig: { clusterName: 'shared', profile: 'admin' } }), [
      `data.config.awsAuthConfig matches no exec profile: eks: args[3] does not match the profile's extraArgs`,
    ]);
  });
});
