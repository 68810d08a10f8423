# syntax=docker/dockerfile:1
# gworker in a container: docs/operations.md, "Deploying in containers". Not built on the
# machines gworker is developed on (they have no container engine or registry); the
# entrypoint's signal handling and the health check are tested there without one
# (test/package/container-recipe.test.ts).
#
#   docker build -t gworker .                        # the worker box (the default target)
#   docker run --rm -v $PWD/gworker.yaml:/etc/gworker/gworker.yaml:ro gworker
#   docker compose -f config/docker/compose.yaml up  # gearmand and two boxes

ARG NODE_IMAGE=node:20-bookworm-slim

# --- production dependencies, native addon (better-sqlite3) built here ----------------
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gworker
COPY package.json package-lock.json ./
# Scripts off: the package's own "prepare" builds with tsc, a devDependency; the addons
# that need their install scripts get them through npm rebuild.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 esbuild

# --- the build: TypeScript to dist/ ----------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# --- a gearmand to try it with (compose.yaml) -------------------------------------------
FROM debian:bookworm-slim AS gearmand
RUN apt-get update \
 && apt-get install -y --no-install-recommends gearman-job-server \
 && rm -rf /var/lib/apt/lists/*
USER gearman
EXPOSE 4730
ENTRYPOINT ["gearmand", "--listen=0.0.0.0", "--port=4730", "--log-file=stderr", "--verbose=INFO"]

# --- the worker box ----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS gworker
# tini is PID 1: it passes SIGTERM on to gworker and reaps the `command:` jobs' children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/gworker --create-home --shell /usr/sbin/nologin gworker \
 && install -d -o gworker -g gworker /etc/gworker
WORKDIR /opt/gworker
COPY --from=deps /opt/gworker/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json LICENSE README.md ./
COPY bin ./bin
COPY workers ./workers
COPY docs ./docs
COPY config/docker/entrypoint.sh config/docker/healthcheck.mjs ./config/docker/
COPY config/docker/gworker.yaml /etc/gworker/gworker.yaml
USER gworker
ENV NODE_ENV=production
# The control API (status, metrics, /healthz, /readyz) on 127.0.0.1:4731 unless the
# manifest's control setting says otherwise; the health check runs inside the container.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/opt/gworker/config/docker/healthcheck.mjs"]
# The drain: SIGTERM, then shutdownTimeout (30 s by default) for running jobs; give the
# container longer than that to stop (docker stop -t, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/gworker/config/docker/entrypoint.sh"]
CMD ["start", "/etc/gworker/gworker.yaml"]
