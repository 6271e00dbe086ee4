# syntax=docker/dockerfile:1
# Multi-stage build of the CDS service. Node 24 is an LTS line that every dependency supports
# (better-sqlite3 12 builds for Node 20-25; Medplum 4.5 needs >= 20.19).

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Toolchain for better-sqlite3's native addon.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# A local stand-in package (see scripts/stubs/isomorphic-webcrypto/package.json) is part of the lockfile.
COPY scripts/stubs ./scripts/stubs
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    FEEDBACK_SQLITE_PATH=/app/data/feedback.sqlite
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/fhir-profiles ./fhir-profiles
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/server.js"]
