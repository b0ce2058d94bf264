/**
 * Writes one namespace's reports to the API: creates the missing, replaces the changed
 * (with the stored resourceVersion; a 409 Conflict re-reads and tries again, a bounded
 * number of times), deletes the ones no longer wanted (found by the managed-by label).
 * An unchanged report is not written.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { apiErrorCode } from '../kube/kube-call.js';
import { isRecord } from '../json.js';
import type { KubeObject } from '../policy/types.js';
import { MANAGED_BY_LABEL, REPORT_SOURCE, REPORT_TYPES, type ReportFormat } from '../report/policy-report.js';

export const MAX_CONFLICT_RETRIES = 5;

/** What a namespace write did (for logs and tests). */
export interface WriteOutcome {
  created: number;
  replaced: number;
  unchanged: number;
  deleted: number;
  conflicts: number;
}

function nameOf(object: unknown): string {
  return isRecord(object) && isRecord(object.metadata) && typeof object.metadata.name === 'string'
    ? object.metadata.name
    : '';
}

/** The parts of a report we write: what to compare with the stored one. */
function content(object: unknown): string {
  if (!isRecord(object)) return '';
  const { summary, results, source } = object;
  const labels = isRecord(object.metadata) ? object.metadata.labels : undefined;
  // Timestamps move on every scan; they alone are no reason to write.
  const stripped = Array.isArray(results)
    ? results.map((r) => (isRecord(r) ? { ...r, timestamp: undefined } : r))
    : results;
  return JSON.stringify({ summary, results: stripped, source, labels });
}

export class ReportWriter {
  private readonly api: CustomObjectsApi;
  private readonly type;

  constructor(kubeConfig: KubeConfig, format: ReportFormat) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.type = REPORT_TYPES[format];
  }

  /** Makes `namespace`'s reports exactly `wanted`. Throws on an API failure other than a conflict. */
  async apply(namespace: string, wanted: readonly KubeObject[]): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { created: 0, replaced: 0, unchanged: 0, deleted: 0, conflicts: 0 };
    const { group, version, plural } = this.type;
    const listed = (await this.api.listNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      labelSelector: `${MANAGED_BY_LABEL}=${REPORT_SOURCE}`,
    })) as { items?: unknown[] };
    const existing = new Map((listed.items ?? []).map((item) => [nameOf(item), item]));
    for (const report of wanted) {
      await this.put(namespace, report, existing.get(nameOf(report)), outcome);
    }
    const wantedNames = new Set(wanted.map(nameOf));
    for (const name of existing.keys()) {
      if (wantedNames.has(name)) continue;
      try {
        await this.api.deleteNamespacedCustomObject({ group, version, namespace, plural, name });
        outcome.deleted += 1;
      } catch (err) {
        if (apiErrorCode(err) !== 404) throw err;
      }
    }
    return outcome;
  }

  private async put(
    namespace: string,
    report: KubeObject,
    stored: unknown,
    outcome: WriteOutcome,
  ): Promise<void> {
    const { group, version, plural } = this.type;
    const name = nameOf(report);
    let current = stored;
    for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt += 1) {
      try {
        if (current === undefined) {
          await this.api.createNamespacedCustomObject({ group, version, namespace, plural, body: report });
          outcome.created += 1;
          return;
        }
        if (content(current) === content(report)) {
          outcome.unchanged += 1;
          return;
        }
        const resourceVersion =
          isRecord(current) && isRecord(current.metadata) ? current.metadata.resourceVersion : undefined;
        const metadata = { ...(report.metadata as Record<string, unknown>), resourceVersion };
        await this.api.replaceNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          name,
          body: { ...report, metadata },
        });
        outcome.replaced += 1;
        return;
      } catch (err) {
        const code = apiErrorCode(err);
        if (code !== 409 || attempt === MAX_CONFLICT_RETRIES) throw err;
        outcome.conflicts += 1;
        // Someone else wrote it (or it exists already): read the stored one and try again.
        try {
          current = await this.api.getNamespacedCustomObject({ group, version, namespace, plural, name });
        } catch (readErr) {
          if (apiErrorCode(readErr) !== 404) throw readErr;
          current = undefined;
        }
      }
    }
  }
}
