/**
 * `tenant-guard audit [FILE|-]`: summarises the audit records (`"audit": true`) of a pino
 * log by tenant, rule id, user and event. Reads stdin when FILE is `-` or absent. Exit 0,
 * or 2 when the file cannot be read.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  addAuditLine,
  emptyAuditSummary,
  sortedCounts,
  type AuditSummary,
  type Counts,
} from '../audit/summary.js';
import { EXIT_BAD_INPUT, EXIT_OK, printError, type CliContext, type CliIo } from './io.js';
import { fileErrorCode } from './read-input.js';

/** Reads a log line by line into a summary (large logs are streamed, not loaded). */
export async function summarizeAuditInput(input: NodeJS.ReadableStream): Promise<AuditSummary> {
  const summary = emptyAuditSummary();
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) addAuditLine(summary, line);
  return summary;
}

function countsText(title: string, counts: Counts): string[] {
  const rows = sortedCounts(counts);
  if (rows.length === 0) return [`${title}: none`];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`${title}:`, ...rows.map(([k, n]) => `  ${k.padEnd(width)}  ${n}`)];
}

/** The text report of a summary. */
export function formatAuditSummary(summary: AuditSummary): string {
  const lines = [
    `audit records: ${summary.records} (lines read: ${summary.lines}, not JSON: ${summary.nonJson})`,
    ...countsText('by event', summary.byEvent),
    ...countsText('by tenant', summary.byTenant),
    ...countsText('by rule', summary.byRule),
    ...countsText('by user', summary.byUser),
  ];
  return `${lines.join('\n')}\n`;
}

/** The JSON report of a summary (counts as objects, most frequent first). */
export function auditSummaryJson(summary: AuditSummary): Record<string, unknown> {
  const obj = (counts: Counts) => Object.fromEntries(sortedCounts(counts));
  return {
    records: summary.records,
    lines: summary.lines,
    nonJson: summary.nonJson,
    byEvent: obj(summary.byEvent),
    byTenant: obj(summary.byTenant),
    byRule: obj(summary.byRule),
    byUser: obj(summary.byUser),
  };
}

async function openInput(file: string | undefined, io: CliIo): Promise<NodeJS.ReadableStream> {
  if (file === undefined || file === '-') return io.stdin;
  const stream = createReadStream(resolve(io.cwd, file));
  await new Promise<void>((ok, fail) => {
    stream.once('open', () => ok());
    stream.once('error', fail);
  });
  return stream;
}

/** Registers `audit`. */
export function register(program: Command, context: CliContext): void {
  program
    .command('audit')
    .description('summarise audit records of a tenant-guard log by tenant, rule, user and event')
    .argument('[file]', 'pino JSON log (- or absent: stdin)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (file: string | undefined, raw: Record<string, unknown>) => {
      const { io } = context;
      if (raw.output !== 'text' && raw.output !== 'json') {
        printError(io, '--output must be text or json');
        context.setExitCode(EXIT_BAD_INPUT);
        return;
      }
      let input: NodeJS.ReadableStream;
      try {
        input = await openInput(file, io);
      } catch (err) {
        printError(io, `cannot read ${file ?? '-'}: ${fileErrorCode(err)}`);
        context.setExitCode(EXIT_BAD_INPUT);
        return;
      }
      const summary = await summarizeAuditInput(input);
      io.stdout.write(
        raw.output === 'json'
          ? `${JSON.stringify(auditSummaryJson(summary), null, 2)}\n`
          : formatAuditSummary(summary),
      );
      context.setExitCode(EXIT_OK);
    });
}
