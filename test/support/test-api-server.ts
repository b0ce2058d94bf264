/**
 * # The test API server
 *
 * An in-memory Kubernetes API server over plain HTTP on 127.0.0.1 (port 0) that our real
 * `@kubernetes/client-node` code talks to, with the real wire format.
 *
 * ```ts
 * const api = await TestApiServer.start();            // core secrets, configmaps, namespaces, serviceaccounts
 * api.registerResource({ group: 'tenantguard.dev', version: 'v1alpha1', plural: 'tenants',
 *   kind: 'Tenant', namespaced: false, statusSubresource: true });
 * const kc = api.kubeConfig();                         // a KubeConfig pointing at it (token 'test')
 * kc.makeApiClient(CoreV1Api) / new Watch(kc) / makeInformer(kc, path, listFn) ...
 * api.seed(type, namespace, object)                    // put an object in without a request
 * api.store.get(...) / api.objects(type)               // read what our code wrote
 * await api.close();
 * ```
 *
 * - Any registered resource, core (`/api/v1/...`) or grouped (`/apis/G/V/...`), namespaced
 *   or cluster-scoped: list (with the list's resourceVersion, label and field selectors), get,
 *   create (201; 409 AlreadyExists), PUT (409 Conflict on a resourceVersion mismatch, the
 *   API server's exact Status), PUT `/status`, PATCH (merge, strategic-as-merge, JSON
 *   patch), DELETE (finalizers honoured), 404 NotFound; `dryRun=All`. One global
 *   resourceVersion; uid, creationTimestamp, generation (bumped on a spec change). An object
 *   over etcd's 1.5 MiB as stored (`maxObjectBytes`; Go's JSON, api-size.ts) is refused with
 *   the API server's 500 `etcdserver: request is too large`.
 * - List in chunks: `?limit=N`, then `?continue=TOKEN` (api-chunks.ts): one snapshot for all pages.
 * - Watch: `?watch=true&resourceVersion=N` streams one JSON `{type, object}` per line
 *   (chunked), starting after N; from '' or '0' it first sends the current objects as
 *   ADDED. A resourceVersion older than the kept history (`historyLimit`, or everything
 *   before `compact()`) gets an ERROR event with the 410 Expired Status, then the stream
 *   ends, as the real one does. `allowWatchBookmarks=true` gets BOOKMARK events
 *   (`sendBookmarks()`, and every `bookmarkIntervalMs`). `dropWatches()` ends every watch.
 * - TokenReview: `POST /apis/authentication.k8s.io/v1/tokenreviews`, answered by
 *   `onTokenReview(handler)` (authenticated user, groups, extra, audiences; not
 *   authenticated; an API error Status; or hang) or, by default (`resetTokenReview()`),
 *   from tokens added with `addToken(token, user)`, checking audiences and expiry as the
 *   API server does. Every review is recorded in `tokenReviews` (token, `spec.audiences`).
 *   `./caller-tokens.ts` makes pod-bound (or unbound) ServiceAccount caller tokens for it,
 *   signed or not.
 * - The service-account issuer's JWKS: `GET /openid/v1/jwks` (and `/openid/v1/jwks/`) answers
 *   `setIssuerJwks(jwks)` as `application/jwk-set+json` (`./api-jwks.ts`); unset, 404.
 * - Faults: `inject(match, action, times)` (delay, hang, stall: 200 then silence, raw watch
 *   lines, API error Status with or without Retry-After, 409, dropped connection), `failNextUpdate(match)`, `stallWatches()` (open watches
 *   go silent without closing); every request is recorded in `requests` with the status
 *   answered (`count({ verb, resource, name, status })`) or `clientClosed` when the client
 *   gave up first, never its Authorization.
 * - Events (core/v1): created with the API server's namespace rules for the involved object
 *   (`./api-events.ts`), 422 Invalid otherwise.
 * - Requests must carry `Authorization: Bearer <token>` (option `token`, default `test`; null
 *   accepts any), else 401 as the real server answers.
 *
 * Not modelled: server-side apply, deletecollection, field managers, admission, RBAC.
 * `./test-tls.ts` makes a CA and a 127.0.0.1 serving certificate for HTTPS test servers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ListChunks } from './api-chunks.js';
import { applyPatch } from './api-patch.js';
import { ApiStatusError, deleted, failure, methodNotAllowed, notFound } from './api-status.js';
import { apiVersionOf, ObjectStore, typeKeyOf, type KubeJson, type ResourceType } from './api-store.js';
import {
  matches,
  reasonFor,
  takeFault,
  type Fault,
  type FaultAction,
  type FaultMatch,
  type RecordedRequest,
} from './api-faults.js';
import {
  knownTokensHandler,
  tokenReviewBody,
  type KnownToken,
  type TokenReviewHandler,
  type TokenReviewRequest,
} from './api-token-review.js';
import { parseSelectors } from './selectors.js';
import { parseRequestPath, type ParsedPath } from './api-paths.js';
import { discoveryDocument } from './api-discovery.js';
import { injectedConflict, isObj, readBody, requireObject, send } from './api-http.js';
import { WatchHub } from './api-watch.js';
import { EVENTS, eventCreateError } from './api-events.js';
import { sendJwks } from './api-jwks.js';

export type { ResourceType, KubeJson, WatchEvent } from './api-store.js';
export type { FaultAction, FaultMatch, RecordedRequest, Verb } from './api-faults.js';
export type {
  KnownToken,
  ReviewedUser,
  TokenReviewAnswer,
  TokenReviewHandler,
  TokenReviewRequest,
} from './api-token-review.js';
export { serviceAccountUser, API_SERVER_AUDIENCES } from './api-token-review.js';
export { EVENTS } from './api-events.js';

/** Core resources every server has. */
export const CORE_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    statusSubresource: true,
  },
  EVENTS,
];

export const SECRETS = CORE_RESOURCES[0] as ResourceType;

/** Options of `TestApiServer.start`. */
export interface TestApiServerOptions {
  /** Bearer token every request must carry; null accepts any request. Default `test`. */
  token?: string | null;
  /** Watch events kept; older resourceVersions get 410. Default 1000. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them, in ms. Default 1000. */
  bookmarkIntervalMs?: number;
  /** Clock for creationTimestamp and token expiry. Default Date.now. */
  now?: () => number;
  /** Most bytes of an object as etcd stores it. Default 1.5 MiB (etcd's `--max-request-bytes`). */
  maxObjectBytes?: number;
}

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** See the file comment. */
export class TestApiServer {
  readonly store: ObjectStore;
  /** Every request, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** Every TokenReview received, oldest first. */
  readonly tokenReviews: TokenReviewRequest[] = [];
  /** Tokens the default TokenReview handler knows. */
  readonly knownTokens = new Map<string, KnownToken>();
  private readonly types = new Map<string, ResourceType>();
  private readonly faults: Fault[] = [];
  private readonly hub: WatchHub;
  /** Chunked lists (`limit`, `continue`). */
  readonly chunks = new ListChunks();
  private readonly sockets = new Set<Socket>();
  private reviewHandler: TokenReviewHandler;
  private issuerJwks: unknown = undefined;
  private server: Server | undefined;
  private readonly token: string | null;
  private readonly now: () => number;
  url = '';

  private constructor(options: TestApiServerOptions) {
    this.now = options.now ?? Date.now;
    this.store = new ObjectStore({
      historyLimit: options.historyLimit ?? 1000,
      now: this.now,
      ...(options.maxObjectBytes === undefined ? {} : { maxObjectBytes: options.maxObjectBytes }),
    });
    this.token = options.token === undefined ? 'test' : options.token;
    this.hub = new WatchHub(this.store, options.bookmarkIntervalMs ?? 1000);
    this.reviewHandler = knownTokensHandler(this.knownTokens, this.now);
    for (const t of CORE_RESOURCES) this.registerResource(t);
  }

  /** Starts a server on 127.0.0.1, port 0. */
  static async start(options: TestApiServerOptions = {}): Promise<TestApiServer> {
    const api = new TestApiServer(options);
    const server = createServer((req, res) => void api.handle(req, res));
    server.on('connection', (s) => {
      api.sockets.add(s);
      s.on('close', () => api.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api.server = server;
    api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return api;
  }

  /** Ends every watch and connection and stops listening. */
  async close(): Promise<void> {
    this.dropWatches();
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A client-node KubeConfig for this server (context `test`, the server's token). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'test', token: this.token ?? 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    return kc;
  }

  /** Serves another resource type. */
  registerResource(type: ResourceType): void {
    this.types.set(typeKeyOf(type), type);
  }

  /** The registered type of a group and plural. */
  resource(group: string, plural: string): ResourceType {
    const t = this.types.get(`${group}/${plural}`);
    if (t === undefined) throw new Error(`test API server: ${plural}.${group} is not registered`);
    return t;
  }

  /** Stores an object without a request (fires watch events like any write). */
  seed(type: ResourceType, namespace: string | undefined, object: KubeJson): KubeJson {
    return this.store.create(type, namespace, object);
  }

  /** All objects of a type (all namespaces). */
  objects(type: ResourceType): KubeJson[] {
    return this.store.list(type, undefined, () => true).items;
  }

  /** Answers TokenReviews with `handler` from now on (the default answers from `knownTokens`). */
  onTokenReview(handler: TokenReviewHandler): void {
    this.reviewHandler = handler;
  }

  /** Goes back to the default handler (answers from `knownTokens`). */
  resetTokenReview(): void {
    this.reviewHandler = knownTokensHandler(this.knownTokens, this.now);
  }

  /** Makes the default handler know a token. */
  addToken(token: string, user: KnownToken): void {
    this.knownTokens.set(token, user);
  }

  /** Serves `jwks` (an object, or text as it is) as the issuer's JWKS; undefined: 404 again. */
  setIssuerJwks(jwks: unknown): void {
    this.issuerJwks = jwks;
  }

  /** Adds a fault for the next `times` matching requests (default: all). Returns its remover. */
  inject(match: FaultMatch, action: FaultAction, times = Number.POSITIVE_INFINITY): () => void {
    const fault: Fault = { match, action, remaining: times };
    this.faults.push(fault);
    return () => {
      const i = this.faults.indexOf(fault);
      if (i >= 0) this.faults.splice(i, 1);
    };
  }

  /** The next `times` updates (PUT or PATCH) that match get 409 Conflict without a write. */
  failNextUpdate(match: FaultMatch = {}, times = 1): void {
    this.inject({ ...match, verb: ['update', 'patch'] }, { conflict: true }, times);
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** How many recorded requests match. */
  count(match: FaultMatch = {}): number {
    return this.requests.filter((r) => matches(match, r)).length;
  }

  /** How many watches are open: being served, not ended by either side. */
  openWatches(): number {
    return this.hub.size;
  }

  /** Ends every open watch (clients then re-watch from their last resourceVersion). */
  dropWatches(): void {
    this.hub.dropAll();
  }

  /**
   * The API server stops answering on every open watch: no event, no bookmark, no error and
   * no end, while the connection stays up (what a hung API server or a black-holed network
   * path looks like to a client). New requests are served normally.
   */
  stallWatches(): void {
    this.hub.stallAll();
  }

  /** Sends a BOOKMARK with the current resourceVersion on every watch that allows them. */
  sendBookmarks(): void {
    this.hub.sendBookmarks();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams.entries());
    const parsed = parseRequestPath(req.method ?? 'GET', url.pathname, query, (g, p) =>
      this.types.get(`${g}/${p}`),
    );
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      verb: parsed.verb,
      ...parsed.info,
    };
    if (typeof req.headers['content-type'] === 'string') record.contentType = req.headers['content-type'];
    this.requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    res.on('close', () => {
      if (!res.writableFinished) record.clientClosed = true;
    });
    try {
      const body = await readBody(req);
      if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`) {
        return send(res, 401, failure(401, 'Unauthorized', 'Unauthorized'));
      }
      const fault = takeFault(this.faults, record);
      if (fault !== undefined && (await this.applyFault(fault, record, req, res))) return;
      await this.route(parsed, body, req, res);
    } catch (err) {
      if (err instanceof ApiStatusError) return send(res, err.status.code, err.status);
      send(
        res,
        500,
        failure(500, 'InternalError', `test API server: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  /** Returns true when the fault answered the request itself. */
  private async applyFault(
    fault: FaultAction,
    record: RecordedRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    if ('delayMs' in fault) {
      await new Promise((r) => setTimeout(r, fault.delayMs));
      return false;
    }
    if ('hang' in fault) return true; // the socket stays open until the client or close() ends it
    if ('stall' in fault) {
      // Headers of a successful answer, then nothing: no line, no error, no end.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return true;
    }
    if ('dropConnection' in fault) {
      req.socket.destroy();
      return true;
    }
    if ('watchLines' in fault) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      for (const line of fault.watchLines) res.write(`${line}\n`);
      if (fault.end === true) res.end();
      else res.flushHeaders();
      return true;
    }
    if ('conflict' in fault) {
      send(res, 409, injectedConflict(record));
      return true;
    }
    if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
    send(
      res,
      fault.status,
      failure(
        fault.status,
        fault.reason ?? reasonFor(fault.status),
        fault.message ?? `injected ${fault.status}`,
      ),
    );
    return true;
  }

  private async route(
    p: ParsedPath,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (p.verb === 'discovery')
      return send(res, 200, discoveryDocument(p.info.path ?? '', [...this.types.values()]));
    if (p.verb === 'tokenreview') return this.tokenReview(body, res);
    if (p.verb === 'jwks') return sendJwks(res, this.issuerJwks);
    const type = p.type;
    if (type === undefined)
      throw new ApiStatusError(failure(404, 'NotFound', 'the server could not find the requested resource'));
    const { namespace, name, subresource } = p.info;
    const dryRun = p.query.dryRun === 'All';
    const target = { name: name ?? '', group: type.group, plural: type.plural };
    switch (p.verb) {
      case 'list': {
        const list = this.store.list(
          type,
          namespace,
          parseSelectors(p.query.labelSelector ?? null, p.query.fieldSelector ?? null),
        );
        const all =
          type.group === '' ? list.items.map(({ apiVersion: _v, kind: _k, ...rest }) => rest) : list.items;
        const page = this.chunks.page(all, list.resourceVersion, p.query.limit, p.query.continue);
        return send(res, 200, {
          kind: `${type.kind}List`,
          apiVersion: apiVersionOf(type),
          metadata: page.metadata,
          items: page.items,
        });
      }
      case 'watch':
        return this.hub.serve(type, p.info.namespace, p.query, req, res);
      case 'get':
        return send(res, 200, this.store.get(type, namespace, name ?? ''));
      case 'create': {
        const object = requireObject(body);
        const refused = type === EVENTS ? eventCreateError(object, namespace) : undefined;
        if (refused !== undefined) throw refused;
        return send(res, 201, this.store.create(type, namespace, object, dryRun));
      }
      case 'update':
        if (subresource !== undefined && subresource !== 'status') throw notFound(target);
        return send(
          res,
          200,
          this.store.update(type, namespace, name ?? '', requireObject(body), {
            ...(subresource === 'status' ? { subresource } : {}),
            dryRun,
          }),
        );
      case 'patch': {
        const current = this.store.get(type, namespace, name ?? '');
        const patched = applyPatch(current, String(req.headers['content-type'] ?? ''), body);
        const rv = (patched.metadata as KubeJson | undefined)?.resourceVersion;
        if (typeof rv === 'string' && rv !== (current.metadata as KubeJson).resourceVersion) {
          return void this.store.update(type, namespace, name ?? '', patched); // throws the Conflict
        }
        const key = this.store.storeKey(type, namespace, name ?? '');
        return send(
          res,
          200,
          this.store.commit(type, key, current, patched, {
            ...(subresource === 'status' ? { subresource } : {}),
            dryRun,
          }),
        );
      }
      case 'delete': {
        const pre =
          isObj(body) && isObj(body.preconditions) && typeof body.preconditions.resourceVersion === 'string'
            ? body.preconditions.resourceVersion
            : undefined;
        const gone = this.store.delete(type, namespace, name ?? '', {
          dryRun,
          ...(pre !== undefined ? { preconditionResourceVersion: pre } : {}),
        });
        const held = isObj(gone.metadata) && gone.metadata.deletionTimestamp !== undefined;
        return send(
          res,
          200,
          type.group === '' && !held
            ? deleted(target, isObj(gone.metadata) ? gone.metadata.uid : undefined)
            : gone,
        );
      }
      default:
        throw methodNotAllowed();
    }
  }

  private async tokenReview(body: unknown, res: ServerResponse): Promise<void> {
    const spec = isObj(body) && isObj(body.spec) ? body.spec : undefined;
    const token = typeof spec?.token === 'string' ? spec.token : '';
    const audiences = Array.isArray(spec?.audiences)
      ? spec.audiences.filter((a): a is string => typeof a === 'string')
      : [];
    const request = { token, audiences };
    this.tokenReviews.push(request);
    const answer = await this.reviewHandler(request);
    if ('hang' in answer) return;
    if ('apiError' in answer) {
      const { code, reason, message } = answer.apiError;
      return send(res, code, failure(code, reason ?? reasonFor(code), message ?? `injected ${code}`));
    }
    send(res, 201, tokenReviewBody(request, answer));
  }
}

export { TOKEN_REVIEW_PATH };
