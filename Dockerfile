# syntax=docker/dockerfile:1
# clickhouse-mcp-gateway image. Build:  docker build --build-arg VERSION=$(node -p "require('./package.json').version") -t clickhouse-mcp-gateway .
# Node 26 is the Active LTS line (LTS since October 2026, supported to April 2029); 24 is already in maintenance.
# Every RUN/COPY of both stages is replayed outside a container engine by scripts/test-image-steps.mjs
# (test/image/image-steps.e2e-spec.ts checks that its commands appear here verbatim): change both together.
ARG NODE_IMAGE=node:26-trixie-slim

# ---- build: dev dependencies (TypeScript, Nest CLI), compiled to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Stand-in for chDB's unpublished platform packages, named by the lock file's overrides.
COPY scripts/unpublished-optional/ scripts/unpublished-optional/
# --omit=optional leaves out chDB's ~550 MB engine: the build type-checks against chDB's JS, never runs it.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY src/ src/
RUN npm run build

# ---- runtime: production dependencies only (no chDB, no test tooling) and dist/ ----
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="clickhouse-mcp-gateway" \
      org.opencontainers.image.description="Model Context Protocol gateway for ClickHouse: a drop-in replacement for altinity-mcp." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:26-trixie-slim"
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/unpublished-optional/ scripts/unpublished-optional/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/ dist/
COPY docker/entrypoint.sh docker/gateway.sh /docker/
# The commands on PATH: the gateway (through docker/gateway.sh, which adds a V8 memory flag), altinity-mcp's name
# for it (so that chart's `args: [altinity-mcp, --config, …]` work unchanged) and the token CLI. Nothing under
# /app is writable at run time.
RUN chmod 0555 dist/main.js dist/cli/jwe-token-generator.js /docker/entrypoint.sh /docker/gateway.sh \
 && ln -s /docker/gateway.sh /usr/local/bin/clickhouse-mcp-gateway \
 && ln -s /docker/gateway.sh /usr/local/bin/altinity-mcp \
 && ln -s /app/dist/cli/jwe-token-generator.js /usr/local/bin/jwe-token-generator
# NODE_OPTIONS: a 2 MB young generation instead of V8's 16-32 MB default cuts ~25 MB of idle RSS for a
# negligible cost at this allocation rate (docker/gateway.sh adds --optimize-for-size, another ~12 MB). HOME and TMPDIR point at /tmp, the only path that must be writable
# (mount an emptyDir there with readOnlyRootFilesystem); the gateway itself writes nothing to disk.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=2" \
    HOME=/tmp \
    TMPDIR=/tmp
# The base image's unprivileged `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# Exec form: the entrypoint execs the gateway, which is then PID 1 and drains on SIGTERM (it installs the
# handlers and spawns no children, so no init is needed). No HEALTHCHECK: /livez and /readyz are for the probes.
ENTRYPOINT ["/docker/entrypoint.sh"]
