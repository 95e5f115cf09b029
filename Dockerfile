# One image for every Outpost role: `outpost control-plane`, `outpost agent`, `outpost code-server`.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production OUTPOST_LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY examples ./examples
RUN useradd --create-home --uid 10001 outpost && mkdir -p /data && chown outpost /data
USER outpost
ENTRYPOINT ["node", "bin/outpost.mjs"]
CMD ["--help"]
