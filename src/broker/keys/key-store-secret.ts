/**
 * The key ring in one Kubernetes Secret shared by every broker replica: `data[<kid>.json]`
 * per key, the Secret's resourceVersion as the store version. A save replaces the Secret
 * with the resourceVersion it was read at, so the API server refuses (409) a write based on
 * a stale read; the caller then reads again and decides again. Entries this replica cannot
 * read are carried over untouched.
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { TenantGuardError } from '../../errors.js';
import { serializeKeyRecord } from './key-material.js';
import { apiErrorCode, describeApiFailure, withSignal } from '../../kube/kube-call.js';
import { entryName, parseEntries, type KeyChange, type KeySnapshot, type KeyStore } from './key-store.js';

/** Options of `SecretKeyStore`. */
export interface SecretKeyStoreOptions {
  namespace: string;
  name: string;
  /** Timeout of each API call in ms. Default 10000. */
  timeoutMs?: number;
}

const LABELS = { 'app.kubernetes.io/name': 'tenant-guard', 'app.kubernetes.io/component': 'broker-keys' };

/** See the file comment. */
export class SecretKeyStore implements KeyStore {
  readonly description: string;
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;
  /** The Secret's data as last read, by resourceVersion, so a save changes only what it means to. */
  private lastRead: { version: string; data: Record<string, string> } | undefined;

  constructor(
    kc: KubeConfig,
    private readonly options: SecretKeyStoreOptions,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.description = `Secret ${options.namespace}/${options.name}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  private fail(action: string, err: unknown, signal: AbortSignal): TenantGuardError {
    return new TenantGuardError(
      'ERR_KEYRING_STORE',
      `cannot ${action} key ring ${this.description}: ${describeApiFailure(err, signal.aborted)}`,
    );
  }

  async load(): Promise<KeySnapshot> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let secret: V1Secret;
    try {
      secret = await this.api.readNamespacedSecret(
        { name: this.options.name, namespace: this.options.namespace },
        withSignal(signal),
      );
    } catch (err) {
      if (apiErrorCode(err) === 404) {
        this.lastRead = undefined;
        return { keys: [], version: undefined, problems: [] };
      }
      throw this.fail('read', err, signal);
    }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) if (typeof v === 'string') data[k] = v;
    const version = secret.metadata?.resourceVersion;
    if (version === undefined)
      throw new TenantGuardError('ERR_KEYRING_STORE', `key ring ${this.description} has no resourceVersion`);
    this.lastRead = { version, data };
    const entries: Array<[string, string]> = Object.entries(data).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]);
    const { keys, problems } = await parseEntries(entries, this.description);
    return { keys, version, problems };
  }

  async save(change: KeyChange, version: string | undefined): Promise<string> {
    const conflict = (why: string): TenantGuardError =>
      new TenantGuardError('ERR_KEYRING_CONFLICT', `key ring ${this.description} ${why}; read it again`);
    const base =
      version === undefined ? {} : this.lastRead?.version === version ? this.lastRead.data : undefined;
    if (base === undefined) throw conflict(`is not at version ${version ?? ''} as last read here`);
    const data = { ...base };
    for (const kid of change.remove) delete data[entryName(kid)];
    for (const k of change.add)
      data[entryName(k.kid)] = Buffer.from(serializeKeyRecord(k), 'utf8').toString('base64');
    const metadata = { name: this.options.name, namespace: this.options.namespace, labels: LABELS };
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const written =
        version === undefined
          ? await this.api.createNamespacedSecret(
              { namespace: this.options.namespace, body: { metadata, type: 'Opaque', data } },
              withSignal(signal),
            )
          : await this.api.replaceNamespacedSecret(
              {
                name: this.options.name,
                namespace: this.options.namespace,
                body: { metadata: { ...metadata, resourceVersion: version }, type: 'Opaque', data },
              },
              withSignal(signal),
            );
      const next = written.metadata?.resourceVersion;
      if (next === undefined)
        throw new TenantGuardError(
          'ERR_KEYRING_STORE',
          `key ring ${this.description} written without a resourceVersion`,
        );
      this.lastRead = { version: next, data };
      return next;
    } catch (err) {
      if (err instanceof TenantGuardError) throw err;
      const code = apiErrorCode(err);
      // 409: another replica wrote first (Conflict) or created it first (AlreadyExists); 404: deleted meanwhile.
      if (code === 409 || code === 404)
        throw conflict(`changed since it was read (${describeApiFailure(err)})`);
      throw this.fail('write', err, signal);
    }
  }
}
