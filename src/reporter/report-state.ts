/**
 * What the background scan knows, without I/O: the current results of every watched object,
 * which namespaces' reports are out of date, and the reports each should have. Objects are
 * re-judged when they change and, all of them, when the registry changes.
 */
import type { KubeObject, PolicyContext } from '../policy/types.js';
import { buildReports, namespaceReports, type ReportFormat } from '../report/policy-report.js';
import { objectRef, scanObject, type ScanFinding } from '../report/scan.js';

function keyOf(object: KubeObject): string {
  const ref = objectRef(object);
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export class ReportState {
  private readonly objects = new Map<string, KubeObject>();
  private readonly findings = new Map<string, ScanFinding[]>();
  /** Keys of the judged objects of each namespace. */
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();

  constructor(private context: PolicyContext | undefined) {}

  /** Judges a new or changed object. Kinds the scan does not judge are ignored. */
  upsert(object: KubeObject): void {
    const key = keyOf(object);
    this.objects.set(key, object);
    this.judge(key, object);
  }

  /** Forgets a deleted object; its results leave the reports at the next flush. */
  remove(object: KubeObject): void {
    const key = keyOf(object);
    const namespace = objectRef(object).namespace;
    const had = this.findings.has(key) || this.objects.has(key);
    this.objects.delete(key);
    this.findings.delete(key);
    this.byNamespace.get(namespace)?.delete(key);
    if (had) this.dirty.add(namespace);
  }

  /** A new registry (or settings): every object is judged again. */
  setContext(context: PolicyContext): void {
    this.context = context;
    for (const [key, object] of this.objects) this.judge(key, object);
  }

  /** Namespaces whose reports must be rewritten, and forgets them (the writer orders them). */
  takeDirty(): string[] {
    const out = [...this.dirty];
    this.dirty.clear();
    return out;
  }

  /** The namespaces marked out of date and not taken yet. */
  dirtyNamespaces(): ReadonlySet<string> {
    return this.dirty;
  }

  /** Marks a namespace out of date (its stored reports may not be the ones wanted). */
  markDirty(namespace: string): void {
    this.dirty.add(namespace);
  }

  /** Every current finding. */
  allFindings(): ScanFinding[] {
    return [...this.findings.values()].flat();
  }

  /** The reports `namespace` should have now (none: its reports are deleted). */
  reportsFor(
    namespace: string,
    format: ReportFormat,
    now: number,
    maxResultsPerReport?: number,
  ): KubeObject[] {
    const mine = [...(this.byNamespace.get(namespace) ?? [])].flatMap((key) => this.findings.get(key) ?? []);
    return namespaceReports(namespace, mine, {
      format,
      now,
      ...(maxResultsPerReport === undefined ? {} : { maxResultsPerReport }),
    });
  }

  /** Every namespace's reports (for `scan -o policyreport`). */
  allReports(format: ReportFormat, now: number): Map<string, KubeObject[]> {
    return buildReports(this.allFindings(), { format, now });
  }

  get size(): number {
    return this.findings.size;
  }

  private judge(key: string, object: KubeObject): void {
    if (this.context === undefined) return;
    const before = this.findings.get(key);
    const after = scanObject(object, this.context);
    if (after === undefined) {
      this.objects.delete(key);
      return;
    }
    this.findings.set(key, after);
    const namespace = objectRef(object).namespace;
    const keys = this.byNamespace.get(namespace) ?? new Set<string>();
    keys.add(key);
    this.byNamespace.set(namespace, keys);
    if (before === undefined || JSON.stringify(before) !== JSON.stringify(after)) this.dirty.add(namespace);
  }
}
