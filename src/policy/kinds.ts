/** The rules of every guarded kind, one module each. */
import { applicationRules } from './application.js';
import { applicationSetRules } from './applicationset.js';
import { appProjectRules } from './appproject.js';
import { clusterSecretRules } from './cluster-secret.js';
import type { GuardedKind, KindRules } from './types.js';

export const KIND_RULES: Readonly<Record<GuardedKind, KindRules>> = {
  ApplicationSet: applicationSetRules,
  Application: applicationRules,
  AppProject: appProjectRules,
  ClusterSecret: clusterSecretRules,
};
