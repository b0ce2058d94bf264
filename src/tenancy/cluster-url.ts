/**
 * Server URL helpers shared by the tenant registry and the rules (TG-AS-03, TG-APP-02,
 * TG-PRJ-01). Pure: no I/O.
 */

/** Argo CD's name for the cluster it runs in. */
export const IN_CLUSTER_NAME = 'in-cluster';

const DEFAULT_PORTS: ReadonlyMap<string, string> = new Map([
  ['https:', '443'],
  ['http:', '80'],
]);

/** Path bytes Go's net/url writes as they are (unreserved, `/`, and the sub-delims it keeps). */
const PATH_AS_IS = /^[A-Za-z0-9\-._~/$&+,:;=@]*$/;
/** A `.` or `..` segment. */
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/** Per byte: 1 when Go writes it as it is in a path. */
const KEPT = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/$&+,:;=@')
  KEPT[c.charCodeAt(0)] = 1;
/** Per byte: its value as a hex digit, or -1. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(d)] = d;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(d)] = d;
}
const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');

/**
 * The path as client-go sends it, one spelling for each path it can send, from the path as
 * written (`writtenPath`). client-go decodes the server URL's path (Go's url.Parse), joins
 * it with the API path (path.Join, which cleans it: empty and `.` segments dropped, then
 * each `..` taking off the segment before it) and writes it back with Go's own escaping:
 * every byte escaped (`%XX`, upper case) but the unreserved ones, `/` and `$&+,:;=@`. So
 * `/clusters/%61`, `/clusters/a`, `/clusters//a` and `/clusters/a/x//..` are one path,
 * and so are `/a%3Bb` and `/a;b`, or `/a!` and `/a%21`. Why: two Tenants could each claim
 * one spelling of the same cluster (red-team reviews: `%61`; then sub-delimiters, `//`
 * and IPv4-mapped hosts; then `//` before `..`, which the URL parser resolves in the
 * other order; each checked against Go).
 *
 * A path that needs no work (the usual) is returned as it is; any other is read once,
 * byte by byte, through lookup tables: the rules ask this of every string of a list
 * generator, and a per-byte regex and string building held the event loop ~1 s for 2.7 MiB
 * of `%` (a red-team review).
 */
function clientPath(path: string): string {
  if (!path.startsWith('/')) return path; // opaque (`mailto:x`): not a server's path
  if (PATH_AS_IS.test(path) && !path.includes('//') && !DOT_SEGMENT.test(path)) return path;
  const text = Buffer.from(path, 'utf8');
  // Decoded in place: a `%XY` becomes its byte, anything else stays.
  const bytes = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    if (byte === 0x25 && i + 2 < text.length) {
      const high = HEX_VALUE[text[i + 1]!]!;
      const low = HEX_VALUE[text[i + 2]!]!;
      if (high >= 0 && low >= 0) {
        bytes[n++] = high * 16 + low;
        i += 2;
        continue;
      }
    }
    bytes[n++] = byte;
  }
  // path.Clean: the kept segments as [start, end) of `bytes`.
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  for (let i = 0; i <= n; i++) {
    if (i < n && bytes[i] !== 0x2f) continue;
    const length = i - start;
    if (length === 2 && bytes[start] === 0x2e && bytes[start + 1] === 0x2e) {
      starts.pop();
      ends.pop();
    } else if (length > 1 || (length === 1 && bytes[start] !== 0x2e)) {
      starts.push(start);
      ends.push(i);
    }
    start = i + 1;
  }
  // Escaped as Go does: at most three bytes out for each byte in, and a slash each.
  const out = Buffer.allocUnsafe(3 * n + starts.length);
  let m = 0;
  for (let k = 0; k < starts.length; k++) {
    out[m++] = 0x2f;
    for (let i = starts[k]!; i < ends[k]!; i++) {
      const byte = bytes[i]!;
      if (KEPT[byte] === 1) out[m++] = byte;
      else {
        out[m++] = 0x25;
        out[m++] = HEX_UPPER[byte >> 4]!;
        out[m++] = HEX_UPPER[byte & 15]!;
      }
    }
  }
  return out.toString('latin1', 0, m);
}

/**
 * The path of an absolute URL as written: between its authority and any query or fragment.
 * The URL parser's `pathname` has already resolved dot segments (before empty segments,
 * where Go does the opposite) and read a backslash as a slash; Go reads neither so. A text
 * with a backslash, a tab or a line break, which the URL parser rewrites and Go refuses,
 * keeps the parser's reading.
 */
function writtenPath(text: string, url: URL): string {
  if (/[\\\t\n\r]/.test(text)) return url.pathname;
  const written = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/.exec(text);
  return written === null ? url.pathname : (written[1] ?? '');
}

/**
 * An IPv4-mapped IPv6 host (`[::ffff:a00:1]`, as the URL parser writes `[::ffff:10.0.0.1]`)
 * as the IPv4 address Go dials and checks the certificate of (`10.0.0.1`).
 */
function clientHost(host: string): string {
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (mapped === null) return host;
  const high = Number.parseInt(mapped[1]!, 16);
  const low = Number.parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * Normalises a cluster server URL for comparison: scheme and host lower-cased, a trailing
 * dot on the host, the default port and a trailing slash dropped, an IPv4-mapped IPv6 host
 * written as its IPv4 address, and the path as client-go sends it (`clientPath`). Returns
 * undefined when the value does not parse as an absolute URL (the caller then compares it
 * literally).
 */
export function normalizeServerUrl(raw: string): string | undefined {
  return normalForms(raw)?.normal;
}

/**
 * The normal form of the server a client connects to: `normalizeServerUrl` without user
 * info, query or fragment, which change what is sent, not where. Undefined when the value
 * does not parse as an absolute URL.
 */
export function connectedServerUrl(raw: string): string | undefined {
  return normalForms(raw)?.connected;
}

/** The two normal forms of one server URL, made by one reading of it. */
interface NormalForms {
  readonly normal: string;
  readonly connected: string;
}

function normalForms(raw: string): NormalForms | undefined {
  // The rules often ask twice in a row for one value (is it a tenant's server, is it the
  // control plane): the last answer is kept, for a value short enough to keep.
  if (raw === lastNormalized.raw) return lastNormalized.forms;
  const forms = normalize(raw);
  if (raw.length <= MAX_REMEMBERED_CHARS) lastNormalized = { raw, forms };
  return forms;
}

/** Longest value whose key is kept between calls (so no large string outlives its request). */
const MAX_REMEMBERED_CHARS = 65_536;
let lastNormalized: { raw: string | undefined; forms: NormalForms | undefined } = {
  raw: undefined,
  forms: undefined,
};

function normalize(raw: string): NormalForms | undefined {
  // canParse first: a thrown TypeError costs tens of microseconds, and the rules ask this of
  // every string of a list generator or project (most of them not URLs). Before it, the
  // colon: an absolute URL has a scheme, which ends with one (WHATWG URL, "scheme state"),
  // so text without one fails to parse; checking that costs no copy, where canParse
  // copies the text to UTF-8 and a 2,500-element list generator's long values are megabytes.
  if (!raw.includes(':')) return undefined;
  const trimmed = raw.trim();
  if (!URL.canParse(trimmed)) return undefined;
  const url = new URL(trimmed);
  const protocol = url.protocol.toLowerCase();
  let host = clientHost(url.hostname.toLowerCase());
  while (host.endsWith('.')) host = host.slice(0, -1);
  const port = url.port === '' || url.port === DEFAULT_PORTS.get(protocol) ? '' : `:${url.port}`;
  let path = clientPath(writtenPath(trimmed, url));
  while (path.endsWith('/')) path = path.slice(0, -1);
  const userinfo = url.username !== '' || url.password !== '' ? `${url.username}:${url.password}@` : '';
  return {
    normal: `${protocol}//${userinfo}${host}${port}${path}${url.search}${url.hash}`,
    connected: `${protocol}//${host}${port}${path}`,
  };
}

/** The key used to index and compare server URLs: the normal form, else the trimmed literal. */
export function serverKey(raw: string): string {
  return normalizeServerUrl(raw) ?? raw.trim();
}

/**
 * True when the URL points at the control plane's own API server: `kubernetes.default.svc`
 * and its longer (`.cluster.local`, any cluster domain) and shorter (`kubernetes.default`,
 * `kubernetes`) spellings, whatever the scheme, port, case or trailing dot.
 */
export function isControlPlaneServer(raw: string): boolean {
  const normal = normalizeServerUrl(raw);
  if (normal === undefined) return false;
  const host = new URL(normal).hostname;
  return (
    host === 'kubernetes' ||
    host === 'kubernetes.default' ||
    host === 'kubernetes.default.svc' ||
    host.startsWith('kubernetes.default.svc.')
  );
}

/**
 * Lower-casing maps each code point to at least one, and a code point is at most two UTF-16
 * units: text longer than this cannot lower-case (trimmed) to `in-cluster`.
 */
const IN_CLUSTER_MAX_UNITS = 2 * IN_CLUSTER_NAME.length;

/** True when a destination name or server names the control plane. */
export function isControlPlaneTarget(value: string): boolean {
  // The length first: lower-casing copies the text, and the rules ask this of every string
  // of a list generator (long values included).
  const trimmed = value.trim();
  if (trimmed.length <= IN_CLUSTER_MAX_UNITS && trimmed.toLowerCase() === IN_CLUSTER_NAME) return true;
  return isControlPlaneServer(value);
}

/**
 * True for a host that is the machine asking: `localhost` (and `*.localhost`), IPv4 loopback
 * and unspecified (127.0.0.0/8, 0.0.0.0/8) in any spelling the URL parser reads as them
 * (`127.1`, `2130706433`, `0x7f.0.0.1`), IPv6 `::1` and `::`, and IPv4-mapped loopback.
 * From the application controller that is its own pod, not a remote cluster: a token sent
 * there goes to whatever else listens in the pod (a red-team review found them accepted).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (/^(127|0)\.\d+\.\d+\.\d+$/.test(host)) return true;
  if (!host.startsWith('[')) return false;
  // The URL parser writes IPv6 compressed and lower case, and IPv4-mapped as hex.
  return host === '[::1]' || host === '[::]' || /^\[::ffff:(7f|0:|0)[0-9a-f]*(:[0-9a-f]+)?\]$/.test(host);
}

/** Why a Tenant cluster server is unacceptable, or undefined when it is a plain https URL. */
export function explainBadServer(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'is not an https URL';
  if (url.username !== '' || url.password !== '') return 'carries user info';
  if (url.search !== '' || raw.includes('?')) return 'carries a query';
  if (url.hash !== '' || raw.includes('#')) return 'carries a fragment';
  if (/%(2f|5c)/i.test(url.pathname) || raw.includes('\\'))
    return 'has an encoded slash (%2F or %5C) or a backslash in its path: proxies and clients differ on whether it separates segments';
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (/[\u0000-\u0020\u007f]/.test(raw.trim()))
    return 'has a space or a control character: write it as the client sends it';
  if (/\/(\.|%2e){0,2}(\/|$)/i.test(writtenPath(raw.trim(), url).replace(/\/$/, '')))
    return "has an empty, '.' or '..' segment in its path: clients and proxies resolve them in different orders; write the path as it is meant";
  if (isControlPlaneServer(raw)) return 'is the control plane';
  if (isLoopbackHost(url.hostname))
    return "is loopback: from Argo CD's controller that is its own pod, not a cluster";
  // The host as written, which Go dials as written: the URL parser decodes `%73` and reads
  // `167772161` or `10.0.0.01` as 10.0.0.1, so such a spelling took 10.0.0.1's key while
  // client-go cannot use it (a red-team review: a Tenant could squat another's server).
  const host = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(raw.trim())?.[1]?.replace(/:\d*$/, '') ?? '';
  if (host.includes('%')) return 'has a percent-encoded host: write the host as it is';
  const hostname = url.hostname.replace(/\.$/, '');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname) && host.toLowerCase().replace(/\.$/, '') !== hostname)
    return `writes the IPv4 address ${hostname} another way: write it as four decimal numbers (clients read other forms as host names)`;
  return undefined;
}
