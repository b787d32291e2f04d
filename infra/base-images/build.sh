#!/usr/bin/env bash
# Builds, on a machine that cannot pull from a container registry, local stand-ins for the
# official images the project uses, under their official names:
#
#   debian:trixie-slim  debootstrap --variant=minbase, trimmed like the official slim image
#   node:24-slim        debian:trixie-slim + Node 24.21.0 and npm 11.19.0 from the npm registry
#                       (sha512-checked), user `node` (1000:1000), the official entrypoint
#   postgres:17         debian:trixie-slim + Debian's postgresql-17, with an entrypoint that
#                       follows the official image's conventions (POSTGRES_* variables,
#                       /docker-entrypoint-initdb.d, PGDATA=/var/lib/postgresql/data, pg_isready)
#   redis:7.4-alpine    debian:trixie-slim + Debian's redis-server, listening on every interface
#                       without protected mode, as the official image does
#   grafana/k6:1.4.2    debian:trixie-slim + k6 v1.4.2 compiled from its Go module (a k6 v1.4.2
#                       binary already on the machine is reused), entrypoint `k6`
#
# An image that already exists is left alone (FORCE=1 rebuilds them all). Where a registry is
# reachable none of this is needed: `docker pull` gives the real images under the same names.
# Every image built here carries the label org.acme.infra=base-image, so it can be found and
# removed without touching anyone else's images:
#   docker image ls --filter label=org.acme.infra=base-image
#
# Needs root (debootstrap), docker, curl, openssl (integrity checks) and go (k6).
# Architecture: the host's (dpkg --print-architecture: amd64 or arm64); nothing else differs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

DEBIAN_SUITE=trixie
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_VERSION=24.21.0
NPM_VERSION=11.19.0
# sha512 integrity of the npm registry tarballs (npm view <pkg>@<version> dist.integrity).
declare -A NODE_INTEGRITY=(
  [x64]="sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=="
  [arm64]="sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=="
)
K6_VERSION=v1.4.2
NPM_INTEGRITY="sha512-SDd/hHg3KqHE5Ht2NHWxNYNtqCQ2pXAPLl6OtQhPyED5PHsRfrOtO199MZTIG2cQoQ1ZRI9t28shrD+2cr3AAw=="
LABEL="org.acme.infra=base-image"

cache="${ACME_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acme-template/infra}"
mkdir -p "$cache"

log() { printf '\n--- %s\n' "$*"; }
has_image() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

dpkg_arch="$(dpkg --print-architecture)"
case "$dpkg_arch" in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  *) echo "unsupported architecture $dpkg_arch (amd64 or arm64)" >&2; exit 1 ;;
esac

# docker build with the daemon's own BuildKit when the CLI has no buildx plugin (the legacy
# builder otherwise); the Dockerfiles need nothing BuildKit-specific.
build() { docker build --label "$LABEL" "$@"; }

# ---------------------------------------------------------------- debian:trixie-slim
if ! has_image "debian:$DEBIAN_SUITE-slim"; then
  log "debian:$DEBIAN_SUITE-slim: debootstrap $DEBIAN_SUITE ($dpkg_arch, minbase)"
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  rootfs="$cache/rootfs-$DEBIAN_SUITE-$dpkg_arch"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --arch="$dpkg_arch" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
    >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # What the official slim variant does: no docs, man pages or translations, ever (dpkg
  # excludes them for later installs too), and apt caches cleaned after every install.
  cp "$here/debian/dpkg-slim" "$rootfs/etc/dpkg/dpkg.cfg.d/docker"
  cp "$here/debian/apt-docker-clean" "$rootfs/etc/apt/apt.conf.d/docker-clean"
  cp "$here/debian/apt-docker-no-languages" "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  cp "$here/debian/apt-docker-autoremove" "$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/var/cache/debconf/*-old
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # The official image's sources: deb822 main + updates + security.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  : >"$rootfs/etc/hostname"
  : >"$rootfs/etc/resolv.conf"
  tar -C "$rootfs" --numeric-owner -c . |
    docker import --change 'CMD ["bash"]' --change "LABEL $LABEL" - "debian:$DEBIAN_SUITE-slim" >/dev/null
  rm -rf "$rootfs"
fi

# ---------------------------------------------------------------- node:24-slim
# sha512 integrity check of a downloaded npm tarball.
verify() {
  local file="$1" integrity="$2" actual
  actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  [ "$actual" = "$integrity" ] || { echo "integrity mismatch for $file: $actual" >&2; return 1; }
}
fetch() {
  local url="$1" file="$2" integrity="$3"
  if [ ! -f "$file" ] || ! verify "$file" "$integrity" 2>/dev/null; then
    curl -fsSL --retry 3 -o "$file.part" "$url"
    verify "$file.part" "$integrity"
    mv "$file.part" "$file"
  fi
}

if ! has_image node:24-slim; then
  log "node:24-slim: Node $NODE_VERSION ($node_arch) + npm $NPM_VERSION from the npm registry"
  context="$cache/node-context"
  rm -rf "$context" && mkdir -p "$context/rootfs/usr/local/lib/node_modules" "$context/rootfs/usr/local/bin"
  node_tgz="$cache/node-linux-$node_arch-$NODE_VERSION.tgz"
  npm_tgz="$cache/npm-$NPM_VERSION.tgz"
  fetch "https://registry.npmjs.org/node-linux-$node_arch/-/node-linux-$node_arch-$NODE_VERSION.tgz" \
    "$node_tgz" "${NODE_INTEGRITY[$node_arch]}"
  fetch "https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz" "$npm_tgz" "$NPM_INTEGRITY"
  # The node-linux-<arch> package is the official binary distribution: bin/node, include/, share/.
  tar -xzf "$node_tgz" -C "$context/rootfs/usr/local" --strip-components=1 --no-same-owner \
    package/bin/node package/include package/share
  mkdir -p "$context/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" -C "$context/rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$context/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$context/rootfs/usr/local/bin/npx"
  cp "$here/node/Dockerfile" "$here/node/docker-entrypoint.sh" "$context/"
  build --build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "NPM_VERSION=$NPM_VERSION" \
    -t node:24-slim -t "node:$NODE_VERSION-$DEBIAN_SUITE-slim" "$context"
  rm -rf "$context"
fi

# ---------------------------------------------------------------- postgres:17
if ! has_image postgres:17; then
  log "postgres:17: Debian's postgresql-17 with the official image's entrypoint conventions"
  build -t postgres:17 -t "postgres:17-$DEBIAN_SUITE" "$here/postgres"
fi

# ---------------------------------------------------------------- redis:7.4-alpine
if ! has_image redis:7.4-alpine; then
  log "redis:7.4-alpine: Debian's redis-server with the official image's conventions"
  build -t redis:7.4-alpine -t "redis:$DEBIAN_SUITE" "$here/redis"
fi

# ---------------------------------------------------------------- grafana/k6:1.4.2
k6_is_pinned() { [ -x "$1" ] && "$1" version 2>/dev/null | grep -q "^k6 $K6_VERSION "; }
if ! has_image "grafana/k6:${K6_VERSION#v}"; then
  log "grafana/k6:${K6_VERSION#v}: k6 $K6_VERSION"
  k6_bin=""
  for candidate in "${K6_BINARY:-}" "$(command -v k6 || true)" "$(go env GOPATH 2>/dev/null)/bin/k6" "$cache/k6/k6"; do
    if [ -n "$candidate" ] && k6_is_pinned "$candidate"; then k6_bin="$candidate"; break; fi
  done
  if [ -z "$k6_bin" ]; then
    # Static, so it runs on any base image.
    GOBIN="$cache/k6" CGO_ENABLED=0 go install "go.k6.io/k6@$K6_VERSION"
    k6_bin="$cache/k6/k6"
  fi
  context="$cache/k6-context"
  rm -rf "$context" && mkdir -p "$context"
  cp "$k6_bin" "$context/k6"
  cp "$here/k6/Dockerfile" "$context/"
  build -t "grafana/k6:${K6_VERSION#v}" "$context"
  rm -rf "$context"
fi

# Superseded builds of these images (dangling, with our label only).
docker image prune -f --filter "label=$LABEL" >/dev/null
docker image ls --filter "label=$LABEL" --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
