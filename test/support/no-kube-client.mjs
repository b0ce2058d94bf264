// `node --import ./test/support/no-kube-client.mjs`: importing @kubernetes/client-node
// throws, so a process that still works never loaded it.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === '@kubernetes/client-node' || specifier.startsWith('@kubernetes/client-node/')) {
    throw new Error('NO_KUBE_CLIENT: @kubernetes/client-node was imported by ' + context.parentURL);
  }
  return next(specifier, context);
}
`),
);
