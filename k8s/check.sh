#!/usr/bin/env bash
# The Kubernetes manifests, checked offline, and a rolling restart rehearsed with real processes.
# No cluster needed. From the repository root:
#
#   bash k8s/check.sh
#
# 1. installs kustomize and k6 at pinned versions with `go install` into a cache directory
#    ($K8S_CHECK_CACHE, default ~/.cache/acme-k8s-check), once;
# 2. renders every overlay (local, production, production + the ServiceMonitor component) and
#    the optional GitOps Application;
# 3. runs k8s/validate's tests: every check shown failing on a broken manifest, then passing;
# 4. validates the rendered overlays: strict decoding, the API server's validation, the Pod
#    Security "restricted" profile, the operators' CRD schemas, and the policy checks; and a
#    deliberately broken overlay, which must be caught by exactly the checks it breaks;
# 5. rehearses a rolling restart (k8s/rehearsal/rolling-restart.ts): through the gateway, then
#    straight to the service; zero failed requests required. K8S_CHECK_SKIP_REHEARSAL=1 skips it.
#
# Needs Go 1.26.4 or newer (and the Go module proxy on the first run); for the rehearsal, Node 24
# (installed from the npm registry into the cache when the machine's is older, like .ci/run) and
# the workspace's node_modules (npm install when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

kustomize_version=v5.8.2
k6_version=v1.4.2

cache="${K8S_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acme-k8s-check}"
export K8S_CHECK_CACHE="$cache"
mkdir -p "$cache/bin"
export GOTOOLCHAIN=local
work=$(mktemp -d "${TMPDIR:-/tmp}/k8s-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n=== %s (%ss)\n' "$1" "$((SECONDS - started))"; }

step "tools"
command -v go >/dev/null || { echo "Go is required (1.26)"; exit 1; }
# k8s/validate's go.mod says go 1.26.4 (CloudNativePG's API module needs it).
go_version=$(go env GOVERSION)
printf '%s\n%s\n' go1.26.4 "$go_version" | sort -C -V ||
  { echo "Go 1.26.4 or newer is required, found $go_version"; exit 1; }

# `go version -m` tells which module version a cached binary was built from.
installed() { [ -x "$cache/bin/$1" ] && go version -m "$cache/bin/$1" 2>/dev/null | grep -q "mod[[:space:]]*$2[[:space:]]*$3"; }
if ! installed kustomize sigs.k8s.io/kustomize/kustomize/v5 "$kustomize_version"; then
  echo "installing kustomize $kustomize_version"
  GOBIN="$cache/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
fi
kustomize="$cache/bin/kustomize"
export KUSTOMIZE="$kustomize"
echo "kustomize $("$kustomize" version)"

step "render"
"$kustomize" build k8s/overlays/local >"$work/local.yaml"
"$kustomize" build k8s/overlays/production >"$work/production.yaml"
# The optional ServiceMonitor component, as production would add it.
"$kustomize" build k8s/validate/testdata/production-monitoring >"$work/production-monitoring.yaml"
"$kustomize" build k8s/validate/testdata/broken-overlay >"$work/broken.yaml"
for f in local production production-monitoring broken; do
  printf '%-22s %3d objects\n' "$f" "$(grep -c '^kind:' "$work/$f.yaml")"
done

step "k8s/validate: tests (each check fails on a broken manifest, passes on the real ones)"
(
  cd k8s/validate
  go vet ./...
  # -count=1: the tests read the overlays through kustomize, which go test's cache cannot see.
  if ! go test -count=1 -v ./... >"$work/test.log" 2>&1; then
    grep -vE '^(=== RUN|=== PAUSE|=== CONT)' "$work/test.log" | tail -80
    exit 1
  fi
  grep -E '^(--- |    --- |ok )' "$work/test.log"
)
echo "broken-manifest cases caught: $(grep -c 'caught:' "$work/test.log")"

step "k8s/validate: the rendered overlays"
(cd k8s/validate && go build -o "$cache/bin/k8s-validate" .)
# Created by the cluster's operator before the first production deploy (k8s/README.md).
external=order-db-credentials,inventory-db-credentials,payment-db-credentials,gateway-tls
"$cache/bin/k8s-validate" -explain -repo . -external-secrets "$external" \
  "$work/local.yaml" "$work/production.yaml" "$work/production-monitoring.yaml"
"$cache/bin/k8s-validate" -schema-only k8s/gitops/application.yaml
echo "--- a deliberately broken overlay (k8s/validate/testdata/broken-overlay):"
"$cache/bin/k8s-validate" -expect probes,rollout,env,network,images "$work/broken.yaml"

if [ "${K8S_CHECK_SKIP_REHEARSAL:-}" = 1 ]; then
  step "rehearsal skipped (K8S_CHECK_SKIP_REHEARSAL=1)"
else
  step "rehearsal: rolling restart under load"
  # .ci/run has built the same pinned k6 already (K6_BIN); otherwise build it here.
  if [ -n "${K6_BIN:-}" ] && "$K6_BIN" version 2>/dev/null | grep -q "$k6_version"; then
    export K6="$K6_BIN"
  else
    if ! installed k6 go.k6.io/k6 "$k6_version"; then
      echo "installing k6 $k6_version"
      GOBIN="$cache/bin" go install "go.k6.io/k6@$k6_version"
    fi
    export K6="$cache/bin/k6"
  fi
  . tools/node24.sh
  if [ ! -f node_modules/.package-lock.json ]; then
    echo "node_modules missing: npm install (the locked versions; see the README on npm ci)"
    npm install --no-audit --no-fund
  fi
  echo "node $(node --version), $("$K6" version | head -1)"
  echo "--- through the gateway (k6 -> gateway -> proxy -> inventory x2)"
  node k8s/rehearsal/rolling-restart.ts --target gateway
  echo "--- straight to the service (k6 -> proxy -> inventory x2: no gateway retry can hide a failure)"
  node k8s/rehearsal/rolling-restart.ts --target service
fi

step "all checks passed"
