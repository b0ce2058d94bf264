/**
 * The reports tenant-guard wrote before this process started: which namespaces hold one of a
 * format (found by the managed-by label, in every namespace), listed in pages.
 * Why: the reporter only rewrote namespaces its informers made dirty, so a namespace emptied
 * while it was down (a crash, a rollout) kept its report for good, and a change of
 * `--report-format` left the other format's reports behind (an operator review).
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { apiErrorCode } from '../kube/kube-call.js';
import { isRecord } from '../json.js';
import { MANAGED_BY_LABEL, REPORT_SOURCE, REPORT_TYPES, type ReportFormat } from '../report/policy-report.js';

/**
 * Reports per page. A report may hold up to MAX_REPORT_BYTES of results and the whole object
 * comes back, so a page stays small: its worst case is this many MiB, not the whole cluster's.
 */
export const REPORT_LIST_PAGE = 25;

function namespaceOf(item: unknown): string | undefined {
  return isRecord(item) && isRecord(item.metadata) && typeof item.metadata.namespace === 'string'
    ? item.metadata.namespace
    : undefined;
}

/**
 * The namespaces holding a report of `format` with tenant-guard's managed-by label, or
 * undefined when the API server does not serve the format (its CRD is not installed: 404).
 * @throws the API failure of any other refusal (a 403, an expired continue token, ...).
 */
export async function namespacesWithReports(
  api: CustomObjectsApi,
  format: ReportFormat,
  pageSize = REPORT_LIST_PAGE,
): Promise<Set<string> | undefined> {
  const { group, version, plural } = REPORT_TYPES[format];
  const out = new Set<string>();
  let token: string | undefined;
  do {
    let page: unknown;
    try {
      page = await api.listClusterCustomObject({
        group,
        version,
        plural,
        labelSelector: `${MANAGED_BY_LABEL}=${REPORT_SOURCE}`,
        limit: pageSize,
        ...(token === undefined ? {} : { _continue: token }),
      });
    } catch (err) {
      if (apiErrorCode(err) === 404 && token === undefined) return undefined;
      throw err;
    }
    const items = isRecord(page) && Array.isArray(page.items) ? page.items : [];
    for (const item of items) {
      const namespace = namespaceOf(item);
      if (namespace !== undefined) out.add(namespace);
    }
    const next = isRecord(page) && isRecord(page.metadata) ? page.metadata.continue : undefined;
    token = typeof next === 'string' && next !== '' ? next : undefined;
  } while (token !== undefined);
  return out;
}
