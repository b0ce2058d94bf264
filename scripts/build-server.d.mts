/** See build-server.mjs: bundles the command into `outdir` (default dist/server/); resolves with its main.mjs. */
export function buildServer(outdir?: string): Promise<string>;
