# The image of one service, for all four: docker build -f infra/service.Dockerfile
#   --build-arg APP=order --build-arg PORT=8081 -t acme/order .   (context: the repository root)
#
# One Dockerfile for the four services because they are built and run the same way (only the
# app folder and the port differ), and because the expensive step, the install of the whole
# workspace, comes before APP is declared: its layer is identical for the four images, so it is
# built once and shared. The root .dockerignore is an allowlist of what the build reads.
#
# Needs BuildKit (Docker 20.10+, the default builder of compose and buildx) for the optional
# build secret below. No `# syntax=` line: the builder's own Dockerfile frontend is used, so it
# builds without pulling anything but the base image. Nothing here is specific to an
# architecture: the install picks the platform packages of the build platform (esbuild's
# binary), and the output is a platform-independent JS bundle (buildx --platform
# linux/amd64,linux/arm64 builds both).

# ---------------------------------------------------------------------------- build stage
FROM node:24-slim AS manifests
WORKDIR /src
# Everything the allowlist lets in, reduced to the manifests: the next stage copies only these,
# so its install layer is reused until a package.json or the lockfile changes.
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
  && find . -type d -empty -delete

FROM node:24-slim AS build
WORKDIR /src
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY --from=manifests /src/ ./
# Exactly the lockfile. No install scripts: nothing the build uses needs one (esbuild's binary
# comes from its platform package), and no dependency gets to run code in the build.
# Behind a TLS-intercepting proxy, the proxy's CA bundle can be passed as the build secret
# `extra_ca_certs` (compose: BUILD_EXTRA_CA_CERTS=/path/to/ca.pem); it is trusted by npm for
# this step only and never stored in a layer.
# NPM_CI is the install command. `npm install` installs the versions the lockfile pins, like
# `npm ci` would, and adds the build platform's optional packages the lockfile cannot hold
# (see "Why npm install" in the README); set NPM_CI="npm ci" with a complete lockfile.
ARG NPM_CI="npm install --no-audit --no-fund"
RUN --mount=type=secret,id=extra_ca_certs,required=false \
  if [ -s /run/secrets/extra_ca_certs ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca_certs; fi \
  && $NPM_CI --ignore-scripts && rm -rf /root/.npm
COPY . .
ARG APP
RUN test -n "$APP" && test -d "apps/$APP" || { echo "--build-arg APP=<gateway|order|inventory|payment>" >&2; exit 1; }
# The app's own build script (tools/build-app.ts): apps/$APP/dist/main.js, an ES module bundle
# of the app and its dependencies, so the runtime stage needs no node_modules at all.
RUN npm run build --workspace "apps/$APP"

# ---------------------------------------------------------------------------- runtime stage
FROM node:24-slim
ARG APP
ARG PORT=8080
LABEL org.opencontainers.image.title="acme-$APP" \
  org.opencontainers.image.description="The $APP service of the Effect microservices template" \
  org.opencontainers.image.licenses="MIT" \
  org.acme.infra="service-image"
ENV NODE_ENV=production PORT=$PORT
WORKDIR /app
# The bundle (with its source map and third-party licences) and the app's package.json, whose
# "type": "module" makes Node load dist/main.js as an ES module. Owned by root, read-only for
# the user that runs it.
COPY --from=build /src/apps/$APP/package.json ./
COPY --from=build /src/apps/$APP/dist/ ./dist/
USER node
EXPOSE $PORT
# Liveness (the process answers). Orchestrators use their own probes; compose overrides this
# with /health/ready so that depends_on waits for a service that can serve.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health/live`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 (through the image's entrypoint, which execs it) and receives SIGTERM
# itself; the service handles it (readiness 503, drain, finish in-flight requests, exit 0).
CMD ["node", "dist/main.js"]
