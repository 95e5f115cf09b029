# One image for every Outpost role: `outpost control-plane`, `outpost agent`, `outpost code-server`.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# The compiled build (`npm run build`: dist/ and the prebuilt workflow bundle); esbuild comes with
# tsx, a runtime dependency. The bin runs dist/ since it is newer than the sources copied with it.
FROM deps AS build
COPY bin ./bin
COPY scripts/build.mjs ./scripts/
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX: fewer idle glibc arenas in the agent (its Temporal core threads), see bench/README.md.
ENV NODE_ENV=production OUTPOST_LOG_LEVEL=info MALLOC_ARENA_MAX=2
WORKDIR /app
# bubblewrap: the agent runs user code in it (--isolation), away from its token and data dir.
# Debian's bwrap is not setuid: it uses user namespaces (see docker-compose.yml's agent).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY examples ./examples
# The stamp is touched last, so it is newer than every source copied above (bin/build-state.mjs).
COPY --from=build /app/dist ./dist
RUN touch dist/.build-stamp
# /data and /secret (agent token) exist in the image so named volumes mounted there start out
# owned by outpost, mode 0700: only that uid can enter them, and user code sees them empty.
RUN useradd --create-home --uid 10001 outpost && mkdir -p /data /secret && chown outpost /data /secret \
  && chmod 700 /data /secret
USER outpost
ENTRYPOINT ["node", "bin/outpost.mjs"]
CMD ["--help"]
