# syntax=docker/dockerfile:1
#
# Multi-stage image for the MCP platform and its web console.
#   build:   full dependency tree, compiles the Nest monorepo and the console (Vite) into dist/
#   runtime: production dependencies + compiled output only, runs as the unprivileged `node` user
#
# Without DATABASE_URL the platform uses the embedded database in DATA_DIR (/data): mount a volume
# there to keep it. With DATABASE_URL (see docker-compose.yml) /data only holds audit events that
# spill to disk while the database is away; mount a volume to keep those across a container restart.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script to build (the only one is telemetry).
RUN npm ci --ignore-scripts
COPY nest-cli.json tsconfig.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force \
 && mkdir -p /data \
 && chown node:node /data
# Code and dependencies stay owned by root (read-only for the process); only /data is writable.
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/platform/apps/platform/src/main.js"]
