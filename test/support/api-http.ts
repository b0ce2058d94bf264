/**
 * HTTP plumbing of the test API server: bodies in, JSON out.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecordedRequest } from './api-faults.js';
import { badRequest, failure, type StatusBody } from './api-status.js';
import type { KubeJson } from './api-store.js';

export function isObj(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @throws ApiStatusError 400 when the body is not a JSON object. */
export function requireObject(body: unknown): KubeJson {
  if (!isObj(body)) throw badRequest('the request body must be a JSON object');
  return body;
}

/** The JSON body of a request (undefined when empty). @throws ApiStatusError 400 for invalid JSON. */
export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

/** Writes a JSON answer (nothing when an answer was already started). */
export function send(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The Conflict Status an injected 409 answers, for the request's resource and name. */
export function injectedConflict(record: RecordedRequest): StatusBody {
  const kind = record.resource ?? 'objects';
  const core = record.group === undefined || record.group === '';
  const target = core ? kind : `${kind}.${record.group ?? ''}`;
  const message = `Operation cannot be fulfilled on ${target} "${record.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`;
  const details = core
    ? { name: record.name ?? '', kind }
    : { name: record.name ?? '', group: record.group ?? '', kind };
  return failure(409, 'Conflict', message, { details });
}
