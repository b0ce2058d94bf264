/**
 * The file-backed registry (`--tenants FILE`), re-read when the file changes (issue 10
 * item 7):
 *
 * - the file's directory is watched, not the file: editors and `kubectl cp` replace a file
 *   by renaming a new one over it, and a ConfigMap volume swaps a `..data` symlink, either
 *   of which ends a watch on the file itself. Any change in the directory schedules a
 *   re-read after `debounceMs` (editors write in steps); the text is compared with the last
 *   one read, so unrelated changes cost a read and nothing else;
 * - SIGHUP re-reads at once;
 * - a file that cannot be read or is invalid keeps the last good registry, and the log says
 *   so with the reason (once per distinct bad content); `refusal()` says why until the file
 *   reads well again (the registry gauges report it as stale);
 * - every Tenant accepted, changed or removed by a reload is logged (registry-changes.ts).
 *
 * The first load is strict: `FileRegistry.load` throws on a bad file, as before.
 */
import { createHash } from 'node:crypto';
import { watch as fsWatch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { isTenantGuardError } from '../errors.js';
import { REAL_TIMERS, type WatchTimers } from './timers.js';
import { parseTenantsYaml, readTenantsText } from './file-source.js';
import { diffViews, logChanges, type TenantView } from './registry-changes.js';
import type { RegistryProvider, TenantRegistry } from './registry.js';

/** What a re-read did. */
export type ReloadOutcome = 'reloaded' | 'unchanged' | 'kept-last-good';

/** Options of `FileRegistry.load`. */
export interface FileRegistryOptions {
  /** The tenants file (multi-document YAML). */
  path: string;
  argocdNamespace: string;
  logger: Logger;
  /** Quiet time after a change in the directory before re-reading, in ms. Default 200. */
  debounceMs?: number;
  /** Watches a directory; default `fs.watch`. Tests inject the trigger. */
  watchDirectory?: (
    dir: string,
    onChange: (filename: string | null) => void,
    onError: (err: Error) => void,
  ) => { close(): void };
  /** Where SIGHUP comes from. Default `process`. */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** Timers of the debounce. Default: real, unref'd. */
  timers?: WatchTimers;
  /** Called after every re-read (tests, metrics). */
  onReload?: (outcome: ReloadOutcome, trigger: string) => void;
}

function defaultWatchDirectory(
  dir: string,
  onChange: (filename: string | null) => void,
  onError: (err: Error) => void,
): { close(): void } {
  const watcher = fsWatch(dir, { persistent: false }, (_event, filename) =>
    onChange(filename === null ? null : String(filename)),
  );
  watcher.on('error', onError);
  return watcher;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Per-Tenant views of a registry from a file: every Tenant in it is accepted. */
function viewsOf(registry: TenantRegistry): Map<string, TenantView> {
  return new Map(
    registry.tenants.map((t) => [
      t.name,
      {
        name: t.name,
        verdict: { accepted: true },
        fingerprint: JSON.stringify(t),
        clusterCount: t.clusters.length,
      },
    ]),
  );
}

/** See the file comment. */
export class FileRegistry implements RegistryProvider {
  private registry: TenantRegistry;
  private views: Map<string, TenantView>;
  /** Digest of the text the registry was built from, and of the last text refused. */
  private goodDigest: string;
  private refusedDigest: string | undefined;
  /** Why the file as it stands is not what is served; undefined while it is. */
  private refused: string | undefined;
  private loadedAt = new Date();
  private watcher: { close(): void } | undefined;
  private debounce: unknown;
  private readonly timers: WatchTimers;
  private readonly log: Logger;
  private readonly onSighup = (): void => {
    this.reload('SIGHUP');
  };

  private constructor(
    private readonly options: FileRegistryOptions,
    text: string,
    registry: TenantRegistry,
  ) {
    this.registry = registry;
    this.views = viewsOf(registry);
    this.goodDigest = digest(text);
    this.timers = options.timers ?? REAL_TIMERS;
    this.log = options.logger.child({ component: 'tenants-file' });
  }

  /**
   * Reads the file once; `start()` then follows it.
   * @throws TenantGuardError ERR_TENANTS_FILE, ERR_TENANT_INVALID or ERR_TENANT_CONFLICT.
   */
  static load(options: FileRegistryOptions): FileRegistry {
    const text = readTenantsText(options.path);
    const source = new FileRegistry(
      options,
      text,
      parseTenantsYaml(text, options.path, options.argocdNamespace),
    );
    logChanges(source.log, diffViews(new Map(), source.views), options.path);
    return source;
  }

  current(): TenantRegistry {
    return this.registry;
  }

  /** When the registry served now was read from the file. */
  lastLoaded(): Date {
    return this.loadedAt;
  }

  /**
   * Why the file, at its last re-read, was not taken (unreadable or invalid) while the last
   * good registry is served; undefined while what is served is what the file holds.
   */
  refusal(): string | undefined {
    return this.refused;
  }

  /** Follows the file: a directory watch and SIGHUP. */
  start(): void {
    if (this.watcher !== undefined) return;
    const dir = dirname(this.options.path);
    const watchDirectory = this.options.watchDirectory ?? defaultWatchDirectory;
    try {
      this.watcher = watchDirectory(
        dir,
        () => this.schedule(),
        (err) => {
          this.log.warn(
            { code: 'ERR_TENANTS_FILE', dir },
            `cannot watch ${dir} for changes of ${basename(this.options.path)} (${err.message}); send SIGHUP to re-read it`,
          );
        },
      );
    } catch (err) {
      this.log.warn(
        { code: 'ERR_TENANTS_FILE', dir },
        `cannot watch ${dir} for changes of ${basename(this.options.path)} (${err instanceof Error ? err.message : String(err)}); send SIGHUP to re-read it`,
      );
    }
    (this.options.signals ?? process).on('SIGHUP', this.onSighup);
  }

  /** Stops following the file; `current()` keeps its answer. */
  close(): void {
    this.timers.clearTimeout(this.debounce);
    this.debounce = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    (this.options.signals ?? process).off('SIGHUP', this.onSighup);
  }

  private schedule(): void {
    this.timers.clearTimeout(this.debounce);
    this.debounce = this.timers.setTimeout(() => {
      this.debounce = undefined;
      this.reload('file change');
    }, this.options.debounceMs ?? 200);
  }

  /** Re-reads the file now. A bad file keeps the last good registry. */
  reload(trigger: string): ReloadOutcome {
    const outcome = this.tryReload(trigger);
    this.options.onReload?.(outcome, trigger);
    return outcome;
  }

  private tryReload(trigger: string): ReloadOutcome {
    const { path, argocdNamespace } = this.options;
    let text: string;
    let next: TenantRegistry;
    try {
      text = readTenantsText(path);
      const d = digest(text);
      if (d === this.goodDigest) {
        this.refused = undefined; // back to what is served
        return 'unchanged';
      }
      if (d === this.refusedDigest) return 'kept-last-good';
      try {
        next = parseTenantsYaml(text, path, argocdNamespace);
      } catch (err) {
        this.refusedDigest = d;
        throw err;
      }
    } catch (err) {
      const code = isTenantGuardError(err) ? err.code : 'ERR_TENANTS_FILE';
      const why = err instanceof Error ? err.message : String(err);
      this.refused = why;
      this.log.error(
        { code, trigger, tenants: this.registry.size, loadedAt: this.loadedAt.toISOString() },
        `tenants file not reloaded; keeping the last good registry (${this.registry.size} tenants, loaded ${this.loadedAt.toISOString()}): ${why}`,
      );
      return 'kept-last-good';
    }
    const views = viewsOf(next);
    const changes = diffViews(this.views, views);
    this.registry = next;
    this.views = views;
    this.goodDigest = digest(text);
    this.refusedDigest = undefined;
    this.refused = undefined;
    this.loadedAt = new Date();
    this.log.info(
      { trigger, tenants: next.size, changes: changes.length },
      `tenants file reloaded (${trigger}): ${next.size} tenants, ${changes.length} changed`,
    );
    logChanges(this.log, changes, path);
    return 'reloaded';
  }
}
