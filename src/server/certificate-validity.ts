/**
 * Whether a serving certificate can verify for anybody now: its notBefore has passed and its
 * notAfter has not. A client (the API server calling the webhook, the exec plugin calling the
 * broker) refuses one outside those dates, while kubelet probes, which verify nothing, keep
 * the pod Ready: so the server refuses it itself, at start and on reload (tls.ts).
 */
import type { X509Certificate } from 'node:crypto';
import type { Clock } from '../clock.js';
import { TenantGuardError } from '../errors.js';

/** A certificate expiring within this many days is named in a warning when it is taken (the alert's bound too). */
export const EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 86_400_000;

/** What to do about a certificate outside its dates, for the error and the log. */
const RENEW_HINT =
  'renew the serving pair (Secret tenant-guard-tls in a cluster: cert-manager renews it, see `kubectl -n tenant-guard describe certificate`; with `tenant-guard certs`, docs/upgrade.md "Certificates"), or check this host\'s clock';

function days(ms: number): string {
  const [n, unit] =
    Math.abs(ms) < DAY_MS
      ? [Math.round(Math.abs(ms) / 3_600_000), 'hour']
      : [Math.floor(Math.abs(ms) / DAY_MS), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * Checks that `x509` is valid at `now()`.
 * @param file the certificate's file, named in the error
 * @throws TenantGuardError ERR_TLS_CERT_VALIDITY naming the dates and what to do
 */
export function checkCertificateDates(x509: X509Certificate, file: string, now: Clock): void {
  const at = now();
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  const which = `the certificate in ${file} (${x509.subject}, serial ${x509.serialNumber})`;
  if (!(at < notAfter))
    throw new TenantGuardError(
      'ERR_TLS_CERT_VALIDITY',
      `${which} expired ${x509.validTo} (${days(at - notAfter)} ago): no client can verify it; ${RENEW_HINT}`,
    );
  if (!(at >= notBefore))
    throw new TenantGuardError(
      'ERR_TLS_CERT_VALIDITY',
      `${which} is not valid before ${x509.validFrom} (in ${days(notBefore - at)}): no client can verify it yet; ${RENEW_HINT}`,
    );
}

/**
 * A warning when `validTo` is within EXPIRY_WARNING_DAYS of `now()`, else undefined.
 */
export function expiryWarning(validTo: string, file: string, now: Clock): string | undefined {
  const left = Date.parse(validTo) - now();
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  return `the serving certificate in ${file} expires ${validTo} (in ${days(left)}); ${RENEW_HINT}`;
}
