/** See build-server.mjs: bundles the command into `outdir` (default dist/server/); resolves with its main.mjs. */
export function buildServer(outdir?: string): Promise<string>;
/** A dependency's JSON file from this size up is required from node_modules at run time, not inlined. */
export const RUN_TIME_JSON_BYTES: number;
