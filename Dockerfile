# syntax=docker/dockerfile:1
# tenant-guard: the webhook, the token broker, and the Argo CD exec credential plugin.
#
#   make image                       # docker build -t tenant-guard:dev .
#   make image IMAGE=registry.example.com/tenant-guard:0.1.0
#
# Runtime: Node.js 24 LTS on Debian slim, production dependencies only, a numeric non-root
# user (so runAsNonRoot can verify it), and an exec-form ENTRYPOINT, so nothing runs a shell.
# Not distroless: the Argo CD init container (webhook-config/argocd/values.yaml) copies the
# plugin out of this image with `cp`, which a distroless image lacks. npm, npx, corepack and
# yarn are removed from the runtime. Pin the base images by digest in your own build.
ARG NODE_IMAGE=node:24-bookworm

# Build: dev dependencies, the TypeScript build, and the plugin as a Node.js single
# executable (make plugin), which needs the full image's binutils (strip).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json Makefile ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && node scripts/build-server.mjs && make plugin

# Production dependencies only.
FROM ${NODE_IMAGE}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM ${NODE_IMAGE}-slim AS runtime
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
# The command bundled with esbuild (scripts/build-server.mjs): less resident memory than the
# compiled files (npm run bench -- memory). node_modules stays for the optional native
# modules a dependency may try to require at run time, and for the dependencies' large JSON
# data (the MIME database, iconv's tables), which the bundle requires from there.
COPY --from=build /src/dist/server ./dist/server
COPY package.json ./
# The exec credential plugin: one self-contained file, copied into Argo CD's controller.
COPY --from=build /src/dist/tenant-guard-credential /usr/local/bin/tenant-guard-credential
USER 65532:65532
EXPOSE 8443
# --no-concurrent-recompilation: V8 optimizes hot functions on the main thread instead of on
# its worker threads. The worker threads' compile jobs leave their memory (malloc'd by each
# thread) resident long after: without the flag the idle webhook on Node.js 24 kept 88-92 MB
# and ~116 MB after a load, with it 78 and 83 MB, at the same CPU a request (Node.js 20: 73
# -> 70 MB idle). Most functions are optimized by the warm-up, before the server listens,
# which takes ~80 ms longer (0.53 -> 0.61 s to listening).
# A V8 flag, so not in NODE_OPTIONS (Node.js refuses it there); bench/shipped.ts reads it
# from here, so the benchmarks run the servers with it.
ENTRYPOINT ["node", "--no-concurrent-recompilation", "/app/dist/server/main.mjs"]
CMD ["serve"]
