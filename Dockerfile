# Amorce: multi-stage image. Built once with the development tools, shipped with production dependencies
# only, non-root user, data in a volume.
# (Docker cannot run on the machine this was written on: reviewed, not built there. See docs/deploy-docker.md.)

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY server ./server
# `npm ci` runs `prepare`: the Prisma clients are generated and server/ is compiled into dist/.
# libsql and argon2 ship prebuilt binaries: no compiler needed. Then the development tools go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    ENV_FILE=/data/.env \
    LOG_JSON=1
WORKDIR /app
RUN groupadd --system amorce && useradd --system --gid amorce --home-dir /app --shell /usr/sbin/nologin amorce \
 && mkdir -p /data && chown amorce:amorce /data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY views ./views
COPY locales ./locales
COPY public ./public
COPY prisma ./prisma
USER amorce
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+(process.env.BASE_PATH||'')+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node directly (not npm): SIGTERM reaches the app, which finishes requests in flight and exits 0.
CMD ["node", "dist/server/main.js"]
