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

/** RFC 3986 unreserved characters: percent-encoding one of them changes nothing. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * A path's percent-encoding in its RFC 3986 normal form (section 6.2.2): an encoded
 * unreserved character decoded (`%61` is `a`), the hex digits of the rest upper-cased.
 * Why: `/clusters/%61` and `/clusters/a` are one path to every server and proxy, and two
 * Tenants could each claim one spelling of the same cluster (a red-team review).
 */
function normalPercentEncoding(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
    const char = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return UNRESERVED.test(char) ? char : encoded.toUpperCase();
  });
}

/**
 * Normalises a cluster server URL for comparison: scheme and host lower-cased, a trailing
 * dot on the host, the default port and a trailing slash dropped, the path's
 * percent-encoding in its normal form (an encoded unreserved character decoded). Returns
 * undefined when the value does not parse as an absolute URL (the caller then compares it
 * literally).
 */
export function normalizeServerUrl(raw: string): string | undefined {
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
  let host = url.hostname.toLowerCase();
  while (host.endsWith('.')) host = host.slice(0, -1);
  const port = url.port === '' || url.port === DEFAULT_PORTS.get(protocol) ? '' : `:${url.port}`;
  let path = normalPercentEncoding(url.pathname);
  while (path.endsWith('/')) path = path.slice(0, -1);
  const userinfo = url.username !== '' || url.password !== '' ? `${url.username}:${url.password}@` : '';
  return `${protocol}//${userinfo}${host}${port}${path}${url.search}${url.hash}`;
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
  if (/%(2f|5c)/i.test(url.pathname))
    return 'has an encoded slash (%2F or %5C) in its path: proxies differ on whether it separates segments';
  if (isControlPlaneServer(raw)) return 'is the control plane';
  if (isLoopbackHost(url.hostname))
    return "is loopback: from Argo CD's controller that is its own pod, not a cluster";
  return undefined;
}
