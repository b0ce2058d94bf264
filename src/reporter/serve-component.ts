/**
 * The background scan as a component of `tenant-guard serve` (`--components reporter`, its
 * own Deployment in the install): writes PolicyReports from informers on the guarded
 * kinds. It needs a Kubernetes API (`--kubeconfig`, or in-cluster).
 */
import { TenantGuardError } from '../errors.js';
import { givenFlags, resolveFlags } from '../flag-value.js';
import {
  componentFlag,
  type ComponentFlag,
  type ServeComponent,
  type ServeContribution,
} from '../server/component.js';
import { SERVE_FLAG_RULES } from '../server/serve-options.js';
import type { ReportFormat } from '../report/policy-report.js';

const FORMATS: Readonly<Record<string, ReportFormat>> = {
  policyreport: 'wgpolicyk8s',
  wgpolicyk8s: 'wgpolicyk8s',
  openreports: 'openreports',
};

/** The reporter's flags, each with its environment variable (read as `serve` reads its own). */
const REPORTER_FLAGS = {
  reportFormat: {
    flag: 'report-format',
    valueName: 'format',
    env: 'TG_REPORT_FORMAT',
    kind: 'string',
    default: 'policyreport',
    description:
      'reports the reporter writes: policyreport (wgpolicyk8s.io/v1alpha2) or openreports (openreports.io/v1alpha1)',
  },
  reportInterval: {
    flag: 'report-interval',
    valueName: 'ms',
    env: 'TG_REPORT_INTERVAL',
    kind: 'string',
    default: '2000',
    description: 'how often the reporter writes changed reports, in ms',
  },
  reportMaxWrites: {
    flag: 'report-max-writes',
    valueName: 'n',
    env: 'TG_REPORT_MAX_WRITES',
    kind: 'string',
    default: '20',
    description: 'namespaces whose reports are written per interval at most',
  },
} as const;

const reporterFlags: readonly ComponentFlag[] = Object.values(REPORTER_FLAGS).map(componentFlag);

function positiveInteger(name: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new TenantGuardError('ERR_USAGE', `--${name} "${String(value)}" is not a positive integer`);
  return n;
}

export const reporterComponent: ServeComponent = {
  name: 'reporter',
  optIn: true,
  flags: reporterFlags,
  async start(context): Promise<ServeContribution> {
    // Before, only the flags were read: TG_REPORT_FORMAT and the others were ignored.
    const f = resolveFlags(
      REPORTER_FLAGS,
      givenFlags(REPORTER_FLAGS, context.options),
      context.env,
      SERVE_FLAG_RULES,
    );
    const format = FORMATS[f.reportFormat];
    if (format === undefined)
      throw new TenantGuardError(
        'ERR_USAGE',
        `--report-format "${f.reportFormat}": use policyreport or openreports`,
      );
    const kubeconfig =
      typeof context.options.kubeconfig === 'string' ? context.options.kubeconfig : undefined;
    // Imported on start: they load @kubernetes/client-node, which only a reporter process needs.
    const { loadKubeConfig } = await import('../kube/kube-config.js');
    const { Reporter } = await import('./reporter.js');
    const kubeConfig = loadKubeConfig(kubeconfig, context.env);
    if (kubeConfig === undefined)
      throw new TenantGuardError(
        'ERR_USAGE',
        'the reporter needs a Kubernetes API: run in a cluster or give --kubeconfig',
      );
    const reporter = new Reporter({
      kubeConfig,
      registry: context.registry,
      settings: context.settings,
      logger: context.logger,
      format,
      flushIntervalMs: positiveInteger('report-interval', f.reportInterval),
      maxWritesPerFlush: positiveInteger('report-max-writes', f.reportMaxWrites),
      metrics: context.metricsRegistry,
    });
    await reporter.start();
    return { close: () => reporter.stop() };
  },
};
