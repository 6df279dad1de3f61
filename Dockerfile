# syntax=docker/dockerfile:1
# One image for all of Keelson's processes; docker-compose.yml picks the command:
#   tsx api/src/server.ts                                      the API (HOST/PORT)
#   tsx workers/src/main.ts                                    a worker (core and/or node queues)
#   sh -c 'tsx db/src/migrate-cli.ts && tsx db/src/seed-cli.ts' schema and first admin (one-shot)
#   node web/server.js                                         the web app (PORT, API_URL, ORIGIN)
# The TypeScript sources run through tsx, as in development, so there is no separate compile step.

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV CI=true
# Dependencies first, so that a source change does not reinstall them.
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY db/package.json db/
COPY workflows/package.json workflows/
COPY activities/package.json activities/
COPY workers/package.json workers/
COPY api/package.json api/
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build -w @keelson/web

FROM node:20-bookworm-slim
# tini reaps the tools the activities run (git, docker build, ansible…) and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH
COPY --from=build /app /app
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["tsx", "api/src/server.ts"]
