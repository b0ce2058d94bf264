/**
 * Validation of core/v1 Events on create, as the API server's legacy Event validation does
 * it (k8s.io/kubernetes pkg/apis/core/validation/events.go, `legacyValidateEvent`): an Event
 * about a cluster-scoped object (empty `involvedObject.namespace`) lives in `default` or
 * `kube-system`; about a namespaced object, in that object's namespace. Also checked, as
 * the strict validation of newer reporters: `involvedObject` names a kind and a name, `type`
 * is `Normal` or `Warning`, `reason` at most 128 characters.
 */
import { invalid, type ApiStatusError } from './api-status.js';
import { isObj } from './api-http.js';
import type { KubeJson, ResourceType } from './api-store.js';

export const EVENTS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  namespaced: true,
};

/** Undefined when the Event may be created in `namespace`, else the 422 to answer. */
export function eventCreateError(event: KubeJson, namespace: string | undefined): ApiStatusError | undefined {
  const name = isObj(event.metadata) && typeof event.metadata.name === 'string' ? event.metadata.name : '';
  const target = { name, group: '', plural: 'events' };
  const involved = isObj(event.involvedObject) ? event.involvedObject : undefined;
  if (involved === undefined) return invalid(target, 'Event', 'involvedObject', 'Required value');
  for (const field of ['kind', 'name'] as const) {
    if (typeof involved[field] !== 'string' || involved[field] === '')
      return invalid(target, 'Event', `involvedObject.${field}`, 'Required value');
  }
  const involvedNs = typeof involved.namespace === 'string' ? involved.namespace : '';
  if (involvedNs === '' && namespace !== 'default' && namespace !== 'kube-system') {
    return invalid(
      target,
      'Event',
      'involvedObject.namespace',
      `Invalid value: "": does not match event.namespace`,
    );
  }
  if (involvedNs !== '' && involvedNs !== namespace) {
    return invalid(
      target,
      'Event',
      'involvedObject.namespace',
      `Invalid value: "${involvedNs}": does not match event.namespace`,
    );
  }
  if (event.type !== undefined && event.type !== 'Normal' && event.type !== 'Warning') {
    return invalid(
      target,
      'Event',
      'type',
      `Unsupported value: "${String(event.type)}": supported values: "Normal", "Warning"`,
    );
  }
  if (typeof event.reason === 'string' && event.reason.length > 128)
    return invalid(target, 'Event', 'reason', 'Too long: may not be more than 128 bytes');
  return undefined;
}
