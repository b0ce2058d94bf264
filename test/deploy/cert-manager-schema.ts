/**
 * The part of cert-manager's v1 API (https://cert-manager.io/docs/reference/api-docs/) that
 * the cert-manager overlay uses, as JSON Schemas with every field name of those types, so a
 * misspelt field fails offline. Fields of the Issuer kinds we do not use (acme, vault,
 * venafi) are accepted as objects without a closer look.
 */
const objectMeta = {
  type: 'object',
  required: ['name', 'namespace'],
  properties: {
    name: { type: 'string' },
    namespace: { type: 'string' },
    labels: { type: 'object' },
    annotations: { type: 'object' },
  },
  additionalProperties: false,
};
const issuerRef = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    kind: { enum: ['Issuer', 'ClusterIssuer'] },
    group: { type: 'string' },
  },
};
const strings = { type: 'array', items: { type: 'string' } };
const duration = { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$' };

export const certificateSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'cert-manager.io/v1' },
    kind: { const: 'Certificate' },
    metadata: objectMeta,
    spec: {
      type: 'object',
      required: ['secretName', 'issuerRef'],
      additionalProperties: false,
      properties: {
        additionalOutputFormats: { type: 'array' },
        commonName: { type: 'string', maxLength: 64 },
        dnsNames: strings,
        duration,
        emailAddresses: strings,
        encodeUsagesInRequest: { type: 'boolean' },
        ipAddresses: strings,
        isCA: { type: 'boolean' },
        issuerRef,
        keystores: { type: 'object' },
        literalSubject: { type: 'string' },
        nameConstraints: { type: 'object' },
        otherNames: { type: 'array' },
        privateKey: {
          type: 'object',
          additionalProperties: false,
          properties: {
            algorithm: { enum: ['RSA', 'ECDSA', 'Ed25519'] },
            encoding: { enum: ['PKCS1', 'PKCS8'] },
            rotationPolicy: { enum: ['Never', 'Always'] },
            size: { type: 'integer' },
          },
        },
        renewBefore: duration,
        renewBeforePercentage: { type: 'integer' },
        revisionHistoryLimit: { type: 'integer' },
        secretName: { type: 'string' },
        secretTemplate: { type: 'object' },
        subject: { type: 'object' },
        uris: strings,
        usages: {
          type: 'array',
          items: {
            enum: [
              'signing',
              'digital signature',
              'content commitment',
              'key encipherment',
              'key agreement',
              'data encipherment',
              'cert sign',
              'crl sign',
              'encipher only',
              'decipher only',
              'any',
              'server auth',
              'client auth',
              'code signing',
              'email protection',
              's/mime',
              'ipsec end system',
              'ipsec tunnel',
              'ipsec user',
              'timestamping',
              'ocsp signing',
              'microsoft sgc',
              'netscape sgc',
            ],
          },
        },
      },
    },
  },
} as const;

export const issuerSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'cert-manager.io/v1' },
    kind: { const: 'Issuer' },
    metadata: objectMeta,
    spec: {
      type: 'object',
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: false,
      properties: {
        selfSigned: {
          type: 'object',
          additionalProperties: false,
          properties: { crlDistributionPoints: strings },
        },
        ca: {
          type: 'object',
          required: ['secretName'],
          additionalProperties: false,
          properties: {
            secretName: { type: 'string' },
            crlDistributionPoints: strings,
            ocspServers: strings,
            issuingCertificateURLs: strings,
          },
        },
        acme: { type: 'object' },
        vault: { type: 'object' },
        venafi: { type: 'object' },
      },
    },
  },
} as const;
