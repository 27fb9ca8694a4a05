# One image recipe for every Berth service: `--build-arg SERVICE=inventory`.
# Services run from TypeScript source under tsx, exactly as `npm start` runs them.
FROM node:20-bookworm-slim
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<name>" && false)
# The executor drives libvirt through virsh.
RUN if [ "$SERVICE" = "placement-executor" ]; then \
      apt-get update && apt-get install -y --no-install-recommends libvirt-clients openssh-client && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /berth
COPY package.json package-lock.json tsconfig.base.json ./
COPY libs ./libs
COPY services ./services
COPY tools ./tools
COPY test/package.json ./test/package.json
COPY proto ./proto
COPY infra ./infra
# scripts/nats-provision.ts: the one-shot `nats-provision` container of docker-compose.yml
COPY scripts/nats-provision.ts ./scripts/nats-provision.ts
# The console serves browser assets built by Vite (a devDependency): built here with the full install,
# then the development packages are pruned; CONSOLE_ASSETS_DIR points at them (no build at start).
RUN if [ "$SERVICE" = "console" ]; then \
      npm ci --ignore-scripts --no-audit --no-fund && \
      (cd services/console && /berth/node_modules/.bin/vite build --logLevel warn) && \
      npm prune --omit=dev --no-audit --no-fund; \
    else \
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund; \
    fi && npm install --no-save tsx@4
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /berth/services/${SERVICE}
USER node
# The flags of SERVICE_NODE_FLAGS in libs/config/src/node-options.ts (npm start and the e2e harness pass them too).
CMD ["sh", "-c", "exec /berth/node_modules/.bin/tsx --max-semi-space-size=64 --single-threaded-gc src/main.ts"]
