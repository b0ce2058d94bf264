/**
 * One Argo CD cluster Secret as the cluster Secret rules (cluster-secret.ts) and `/mutate`
 * (cluster-secret-mutation.ts) read it: `name`, `server`, `project` and `config` from `data`
 * (base64) overlaid by `stringData`, the config parsed as Argo CD parses it, and what it
 * makes Argo CD run. Pure.
 */
import { readExec, type ExecReading } from './cluster-secret-exec-reading.js';
import { dataPath, fieldText, readSecretData, type SecretData } from './cluster-secret-data.js';
import { parseClusterConfig, type ParsedConfig } from './cluster-secret-json.js';
import type { KubeObject, Violation } from './types.js';
import { violation } from './types.js';

/** What the rules read from one cluster Secret. */
export interface SecretView {
  readonly data: SecretData;
  readonly name: string | undefined;
  readonly server: string | undefined;
  readonly project: string | undefined;
  /** Absent when the Secret has no `config`. */
  readonly config: ParsedConfig | undefined;
  /** What the config makes Argo CD run (TG-CS-04). */
  readonly exec: ExecReading;
  /** TG-REQ-01: unreadable data, unparseable config. */
  readonly problems: readonly Violation[];
}

/** Reads a cluster Secret (or nothing: every field undefined). Never throws. */
export function readView(object: KubeObject | undefined): SecretView {
  const data = readSecretData(object);
  const problems = [...data.problems];
  const configText = fieldText(data, 'config');
  const config = configText === undefined ? undefined : parseClusterConfig(configText);
  if (config !== undefined && !config.ok)
    problems.push(
      violation('TG-REQ-01', dataPath('config'), `${config.reason}; Argo CD cannot read it either`),
    );
  const exec = config?.ok === true ? readExec(config.value, config.duplicateKeys) : readExec(undefined, []);
  return {
    data,
    name: fieldText(data, 'name'),
    server: fieldText(data, 'server'),
    project: fieldText(data, 'project'),
    config,
    exec,
    problems,
  };
}

/** The parsed config, when there is one and it parses. */
export function configValue(view: SecretView): Record<string, unknown> | undefined {
  return view.config?.ok === true ? view.config.value : undefined;
}
