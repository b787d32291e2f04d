#!/usr/bin/env bash
# The infra check, as CI runs it: bash infra/check.sh (as root, on Debian/Ubuntu with Go 1.26+).
#
#  1. installs what it needs, pinned: debootstrap and docker.io from apt if missing (and starts
#     dockerd if no daemon answers), Docker Compose v2.40.3, promtool 3.15.0, a validating build
#     of the OpenTelemetry collector 0.162.0 and infra/tools/metricscheck, from the Go module proxy;
#  2. builds the local base images if missing (infra/base-images/build.sh: debian:trixie-slim,
#     node:24-slim, postgres:17, redis:7.4-alpine, grafana/k6:1.4.2; no registry needed);
#  3. builds the four service images for real (infra/service.Dockerfile, through compose);
#  4. starts the core stack (PostgreSQL + the four services) and waits for every health check;
#  5. measures the stack's memory at idle (docker stats);
#  6. runs the k6 smoke scenario (loadtests/shop.js, compose profile k6) against the gateway;
#  7. exercises the paths whose metrics only exist once they happen (a declined order, a rate
#     limited burst, a payment outage until an outbox command is dead-lettered, an inventory
#     stall until the gateway's breaker opens), scrapes every service's /metrics and checks that
#     every metric and label used by the dashboards and alert rules is in the scrapes
#     (metricscheck), then that metricscheck does fail on a misspelled metric name;
#  8. places an order with a traceparent of its own and finds, through Jaeger's query API, one
#     trace from the gateway through order and its outbox relay to inventory and payment (the
#     collector and Jaeger run from images built here from their Go sources: Jaeger v1.75.0's
#     cmd/jaeger, the collector of infra/otel-collector/validate/builder.yaml);
#  9. validates what cannot run here statically: `docker compose config` with every profile,
#     `promtool check config`, `promtool check rules`, `promtool test rules`, and
#     `otelcol validate` of the collector config;
# 10. stops the stack with `docker compose down` and checks that every container exited 0
#     (SIGTERM: readiness 503, drain, in-flight requests finished).
#
# Exits non-zero on the first failure (the stack is taken down, its logs shown). Settings:
#   ACME_CHECK_PROJECT        compose project name (default acme-check; never your own stack)
#   ACME_CHECK_GATEWAY_PORT   host port of the gateway (default: the first free one from 18080)
#   ACME_CHECK_KEEP=1         leave the stack running at the end (docker compose -p acme-check down -v)
#   ACME_INFRA_CACHE          tools, base image downloads, Go builds (default ~/.cache/acme-template/infra)
#   NPM_CI                    the build stage's install command (default: npm install, see the Dockerfile)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

COMPOSE_VERSION=v2.40.3
PROMETHEUS_VERSION=3.15.0       # prom/prometheus in compose.yaml; Go module v0.315.0
PROMETHEUS_MODULE=v0.315.0
OCB_VERSION=v0.162.0            # otel/opentelemetry-collector-contrib 0.162.0 in compose.yaml
JAEGER_VERSION=v1.75.0          # its cmd/jaeger is Jaeger v2, as jaegertracing/jaeger:2.x in compose.yaml

project="${ACME_CHECK_PROJECT:-acme-check}"
cache="${ACME_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acme-template/infra}"
bin="$cache/bin"
work="$(mktemp -d /tmp/acme-infra-check.XXXXXX)"
mkdir -p "$bin"
export ACME_INFRA_CACHE="$cache"
# Only the core profile: a COMPOSE_PROFILES from the caller's shell must not add services.
unset COMPOSE_PROFILES COMPOSE_FILE COMPOSE_PROJECT_NAME

# ---------------------------------------------------------------------------- output, timing
started=$SECONDS
step_name=""
step_started=$SECONDS
timings=()
report=()
step() {
  if [ -n "$step_name" ]; then timings+=("$(printf '%5ss  %s' $((SECONDS - step_started)) "$step_name")"); fi
  step_name="$1"
  step_started=$SECONDS
  printf '\n=== %s  (%ss)\n' "$1" $((SECONDS - started))
}
note() { printf '    %s\n' "$*"; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
fail() {
  printf '\ncheck: FAIL: %s\n' "$*" >&2
  exit 1
}
# checked NAME CMD...: runs CMD, shows its output indented, fails the check with NAME if it fails.
checked() {
  local name="$1"
  shift
  if "$@" >"$work/$name.log" 2>&1; then
    sed 's/^/    /' "$work/$name.log"
  else
    sed 's/^/    /' "$work/$name.log" >&2
    fail "$name"
  fi
}

# ---------------------------------------------------------------------------- cleanup
bg_pids=()
stack_up=0
# The check runs the collector and Jaeger from images built here from their Go sources (step 4),
# in place of the official images compose.yaml names, which cannot be pulled here.
cat >"$work/compose.check.yaml" <<YAML
services:
  otel-collector: { image: acme-check/otelcol:${OCB_VERSION#v} }
  jaeger: { image: acme-check/jaeger:${JAEGER_VERSION#v} }
YAML
compose() { "$bin/docker-compose" -f infra/compose.yaml -f "$work/compose.check.yaml" -p "$project" "$@"; }
# Our own background processes and their children, by pid.
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
cleanup() {
  local status=$?
  for pid in "${bg_pids[@]}"; do kill_tree "$pid"; done
  if [ "$stack_up" = 1 ]; then
    if [ "$status" != 0 ]; then
      printf '\n--- the stack at the failure\n' >&2
      compose ps -a >&2 || true
      compose logs --no-color --tail 15 >&2 || true
    fi
    if [ "${ACME_CHECK_KEEP:-0}" = 1 ] && [ "$status" = 0 ]; then
      note "left running (ACME_CHECK_KEEP=1): $bin/docker-compose -f infra/compose.yaml -p $project down -v"
    else
      compose --profile observability down -v --remove-orphans >/dev/null 2>&1 || true
    fi
  fi
  if [ "$status" = 0 ]; then rm -rf "$work"; else printf 'check: logs and scrapes kept in %s\n' "$work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ============================================================================ 1. prerequisites
step "prerequisites"
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap and docker need it)"
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} = 0 ] && return 0
  note "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$work/apt.log" 2>&1 ||
    { apt-get update >>"$work/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$work/apt.log" 2>&1; } ||
    { tail -20 "$work/apt.log" >&2; fail "apt-get install ${missing[*]}"; }
}
for tool in curl openssl; do command -v "$tool" >/dev/null || apt_install "$tool"; done
# Some machines have the Docker client only: the engine (dockerd) comes with Debian's docker.io.
command -v docker >/dev/null && command -v dockerd >/dev/null || apt_install docker.io
if ! docker info >/dev/null 2>&1; then
  note "no Docker daemon answers: starting dockerd (log: $cache/dockerd.log)"
  nohup dockerd >"$cache/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start (see $cache/dockerd.log)"
fi
command -v go >/dev/null || fail "Go 1.26+ is needed to build compose, promtool and the collector check (https://go.dev/dl/)"
note "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), $(go version | cut -d' ' -f3)"

# ============================================================================ 2. tools (background)
# Each tool is cached in $bin under a name that carries its version, and rebuilt only when missing.
# Compose and Prometheus have replace/exclude directives in their go.mod, which `go install
# pkg@version` refuses: their module source is downloaded through the module proxy and built in
# place (with those directives, as their own releases are).
build_module() { # module version package output ldflags
  local module="$1" version="$2" package="$3" output="$4" ldflags="$5" dir src
  dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || return 1
  src="$(mktemp -d "$work/src.XXXXXX")"
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  (cd "$src" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$output.part" "$package")
  mv "$output.part" "$output"
  rm -rf "$src"
}
compose_bin="$bin/docker-compose-$COMPOSE_VERSION"
promtool_bin="$bin/promtool-$PROMETHEUS_VERSION"
ocb_hash="$(sha256sum infra/otel-collector/validate/builder.yaml | cut -c1-12)"
otelcol_bin="$bin/otelcol-validate-${OCB_VERSION#v}-$ocb_hash"
build_compose() {
  [ -x "$compose_bin" ] || build_module github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd "$compose_bin" \
    "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION"
  ln -sf "$(basename "$compose_bin")" "$bin/docker-compose"
}
build_promtool() {
  [ -x "$promtool_bin" ] || build_module github.com/prometheus/prometheus "$PROMETHEUS_MODULE" ./cmd/promtool "$promtool_bin" \
    "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
}
build_otelcol() {
  [ -x "$otelcol_bin" ] && return 0
  GOBIN="$cache/gobin" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
  local out="$work/otelcol"
  sed "s|^dist:|dist:\n  output_path: $out|" infra/otel-collector/validate/builder.yaml >"$work/builder.yaml"
  "$cache/gobin/builder" --config "$work/builder.yaml"
  mv "$out/otelcol-validate" "$otelcol_bin"
}
jaeger_bin="$bin/jaeger-${JAEGER_VERSION#v}"
build_jaeger() { [ -x "$jaeger_bin" ] || build_module github.com/jaegertracing/jaeger "$JAEGER_VERSION" ./cmd/jaeger "$jaeger_bin" "-s -w"; }
build_metricscheck() { go build -C infra/tools/metricscheck -o "$bin/metricscheck" .; }

step "tools: building in the background (logs in $work/tools-*.log)"
declare -A tool_pid
background() { # name function [niceness]
  (
    if [ "${3:-0}" != 0 ]; then renice -n "$3" -p "$BASHPID" >/dev/null; fi
    "$2"
  ) >"$work/tools-$1.log" 2>&1 &
  tool_pid[$1]=$!
  bg_pids+=($!)
}
await() { # name
  if ! wait "${tool_pid[$1]}"; then
    tail -30 "$work/tools-$1.log" >&2
    fail "building $1 failed (log above)"
  fi
}
background compose build_compose
# Needed only at the end: lower priority, so compose (needed first) gets the CPU.
background promtool build_promtool 10
background otelcol build_otelcol 10
background metricscheck build_metricscheck 10
background jaeger build_jaeger 10

# ============================================================================ 3. base images
step "base images (infra/base-images/build.sh; built only when missing)"
if ! docker image inspect debian:trixie-slim >/dev/null 2>&1; then apt_install debootstrap; fi
bash infra/base-images/build.sh >"$work/base-images.log" 2>&1 || { tail -30 "$work/base-images.log" >&2; fail "base images"; }
grep -E '^--- |  [0-9.]+[kMG]B$' "$work/base-images.log" | sed 's/^/    /'

# ============================================================================ 4. compose, config
step "docker compose $COMPOSE_VERSION (built from the Go module) and compose.yaml"
await compose
note "$("$bin/docker-compose" version)"
# `docker compose` (the CLI plugin) for people following the README, unless they have one.
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if ! docker compose version >/dev/null 2>&1; then
  mkdir -p "$plugins" && ln -sf "$compose_bin" "$plugins/docker-compose"
  note "installed as the docker CLI plugin: $plugins/docker-compose"
fi
# Schema and interpolation of the whole file, every profile included.
"$bin/docker-compose" -f infra/compose.yaml --profile observability --profile k6 config --quiet ||
  fail "docker compose config (all profiles)"
compose config --quiet || fail "docker compose config (core)"
note "compose config: valid, core and every profile ($(compose --profile observability --profile k6 config --services | tr '\n' ' '))"
compose down -v --remove-orphans >/dev/null 2>&1 || true # a stack left by an interrupted run

# ============================================================================ 5. service images
step "service images (infra/service.Dockerfile, npm install + npm run build per app)"
# Behind a TLS-intercepting proxy the build's npm needs its CA (a build secret, never in a layer).
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
  export BUILD_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"
  note "npm trusts NODE_EXTRA_CA_CERTS ($NODE_EXTRA_CA_CERTS) while building"
fi
NPM_CI="${NPM_CI:-npm install --no-audit --no-fund}"
export NPM_CI
note "install command: $NPM_CI"
compose --progress plain build >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "docker compose build"; }
grep -E 'built /src/apps/|added [0-9]+ packages' "$work/build.log" | sed 's/^#[0-9]* [0-9.]* /    /' || true
docker image prune -f --filter label=org.acme.infra=service-image >/dev/null # superseded builds of ours
for app in gateway order inventory payment; do
  report+=("$(docker image inspect "acme/$app:local" --format "image acme/$app:local  {{.Size}}" | awk '{printf "%s %s  %.0f MB", $1, $2, $3/1e6}')")
done
printf '    %s\n' "${report[@]}"

# ============================================================================ 6. core stack up
step "core stack up (postgres + 4 services, every health check green)"
port="${ACME_CHECK_GATEWAY_PORT:-}"
if [ -z "$port" ]; then
  port=18080
  while ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; do port=$((port + 1)); done
fi
export GATEWAY_PORT="$port"
# Outbox retries made short, so the dead-letter path can be exercised in seconds (step 8).
export OUTBOX_MAX_ATTEMPTS=3 OUTBOX_BACKOFF_BASE="200 millis" OUTBOX_BACKOFF_MAX="1 second"
stack_up=1
# Traces first: a service that cannot reach the collector pauses its exporter for a minute.
await otelcol
await jaeger
for image in "otelcol:${OCB_VERSION#v} $otelcol_bin" "jaeger:${JAEGER_VERSION#v} $jaeger_bin"; do
  set -- $image
  cp "$2" "$work/trace-binary"
  docker build -q -t "acme-check/$1" --label org.acme.infra=trace-image --build-arg BINARY=trace-binary \
    -f infra/traces/Dockerfile "$work" >/dev/null || fail "docker build acme-check/$1"
done
compose --profile observability up -d --wait --wait-timeout 60 otel-collector jaeger >"$work/up-traces.log" 2>&1 ||
  { cat "$work/up-traces.log" >&2; fail "collector and Jaeger up"; }
note "collector and Jaeger (built from source: acme-check/otelcol:${OCB_VERSION#v}, acme-check/jaeger:${JAEGER_VERSION#v}) up"
up_started=$SECONDS
compose up -d --wait --wait-timeout 180 --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "docker compose up --wait"; }
report+=("core stack healthy $((SECONDS - up_started)) s after up (postgres init included)")
gateway="http://127.0.0.1:$port"
curl -fsS "$gateway/health/ready" >/dev/null || fail "gateway $gateway/health/ready"
note "gateway: $gateway  ($(curl -fsS "$gateway/health/ready"))"

# ============================================================================ 7. idle memory
step "memory of the core stack at idle (docker stats --no-stream)"
sleep 15
mem_table() {
  docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' $(compose ps -q) |
    awk '{ v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[A-Za-z]+$/, "", v);
           mib = (unit == "GiB") ? v * 1024 : (unit == "KiB" || unit == "kB") ? v / 1024 : v;
           total += mib; printf "    %-28s %7.1f MiB\n", $1, mib }
         END { printf "    %-28s %7.1f MiB\n", "total", total }'
}
mem_table | tee "$work/memory-idle.txt"
report+=("memory at idle: $(awk '/ total /{print $2" MiB"}' "$work/memory-idle.txt") ($(grep -v ' total ' "$work/memory-idle.txt" | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}'))")

# ============================================================================ 8. k6 smoke
step "k6 smoke scenario against the gateway (compose profile k6: loadtests/shop.js)"
# The scenario's thresholds: no failed request, 99% of checks. Its latency SLOs are for a
# performance environment, not a shared 2-core CI machine: relaxed here, errors still fail it.
export SLO_BROWSE_P95=2000 SLO_BROWSE_P99=5000 SLO_READ_P95=2000 SLO_READ_P99=5000 SLO_ORDER_P95=5000 SLO_ORDER_P99=8000
compose --profile k6 run --rm k6 >"$work/k6.log" 2>&1 || { tail -60 "$work/k6.log" >&2; fail "k6 smoke scenario"; }
grep -E '✓|✗|checks_succeeded|http_req_failed\.|http_reqs\.|iterations\.|http_req_duration\.' "$work/k6.log" | sed 's/^ */    /' | head -30 || true
report+=("k6 smoke: $(grep -m1 -E 'checks_succeeded' "$work/k6.log" | sed 's/^ *//; s/  */ /g'), $(grep -m1 -E 'http_reqs\.' "$work/k6.log" | sed 's/^ *//; s/\.\.*:/:/; s/  */ /g')")

# ============================================================================ 9. exercise + metrics
step "exercise the failure paths, scrape /metrics, cross-check dashboards and alerts"
# A development token (HS256, the gateway's published development secret unless JWT_SECRET is
# set), made here with openssl; the secret is read from the gateway's source.
dev_secret="$(sed -n 's/^export const developmentSecret = "\(.*\)"$/\1/p' apps/gateway/src/Auth/JwtConfig.ts)"
[ -n "$dev_secret" ] || fail "cannot read developmentSecret from apps/gateway/src/Auth/JwtConfig.ts"
grep -qF "\"$dev_secret\"" infra/k6/tokens.js ||
  fail "infra/k6/tokens.js does not use the gateway's development secret (apps/gateway/src/Auth/JwtConfig.ts)"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
token() {
  local now header payload signature
  now="$(date +%s)"
  header="$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)"
  payload="$(printf '{"sub":"%s","iss":"%s","aud":"%s","iat":%d,"exp":%d}' "$1" "${JWT_ISSUER:-acme-dev}" \
    "${JWT_AUDIENCE:-acme-api}" "$now" $((now + 3600)) | b64url)"
  signature="$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "${JWT_SECRET:-$dev_secret}" -binary | b64url)"
  printf '%s.%s.%s' "$header" "$payload" "$signature"
}
place_order() { # token sku payment-token -> "status body"
  curl -sS -o "$work/order.json" -w '%{http_code}' -X POST "$gateway/v1/orders" \
    -H "authorization: Bearer $1" -H 'content-type: application/json' \
    -H "idempotency-key: $(cat /proc/sys/kernel/random/uuid)" \
    -d "{\"items\":[{\"sku\":\"$2\",\"quantity\":1}],\"payment\":{\"token\":\"$3\"}}"
}
scrape() { # service admin-port -> exposition on stdout (from inside the network: no ports published)
  compose exec -T "$1" node -e "fetch('http://127.0.0.1:$2/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"
}
services=(gateway:9080 order:9081 inventory:9082 payment:9083)

t="$(token check-declined)"
code="$(place_order "$t" BOLT-M8 tok_decline || true)"
note "declined card: POST /v1/orders -> $code $(sed -n 's/.*"status":"\([A-Z]*\)".*"reason":"\([a-z_]*\)".*/\1 (\2)/p' "$work/order.json")"
[[ "$code" =~ ^20[12]$ ]] || fail "placing an order with tok_decline: HTTP $code $(cat "$work/order.json")"

t="$(token check-burst)"
burst="$(seq 80 | xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer $t" "$gateway/v1/products/BOLT-M8" | sort | uniq -c | tr -s ' \n' ' ' || true)"
note "80 requests at once from one caller:$burst(429: rate limited)"

t="$(token check-outage)"
compose stop payment >/dev/null 2>&1
note "payment stopped (exit code $(docker inspect "$(compose ps -a -q payment)" --format '{{.State.ExitCode}}'))"
code="$(place_order "$t" NUT-M8 tok_visa || true)"
note "order while payment is down: POST /v1/orders -> $code $(sed -n 's/.*"status":"\([A-Z]*\)".*/\1/p' "$work/order.json")"
dead=""
for _ in $(seq 1 60); do
  scrape order 9081 >"$work/order.prom" 2>/dev/null || true
  if grep -q '^outbox_dead_letters' "$work/order.prom"; then dead=1 && break; fi
  sleep 1
done
[ -n "$dead" ] || fail "no outbox_dead_letters on order's /metrics within 60 s of the payment outage"
note "order dead-lettered the payment command: $(scrape order 9081 | grep '^outbox_dead_letters' | tr '\n' ' ')"
compose start payment >/dev/null 2>&1

compose pause inventory >/dev/null 2>&1
t="$(token check-stall)"
stall="$(seq 8 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer $t" "$gateway/v1/products?limit=1" | sort | uniq -c | tr -s ' \n' ' ' || true)"
fast="$(seq 3 | xargs -I{} curl -s -o /dev/null -w '%{http_code}/%{time_total}s ' -H "authorization: Bearer $t" "$gateway/v1/products?limit=1" || true)"
compose unpause inventory >/dev/null 2>&1
note "inventory stalled: 8 requests at once ->$stall(503/504: timeouts, retried)"
note "then, breaker open: $fast"
note "gateway breakers: $(scrape gateway 9080 | grep '^resilience_circuit_breaker_state' | tr '\n' ' ')"
# Health checks that failed during the outages need a few intervals to pass again. (The
# collector and Jaeger, here for the trace check, have no health check: no state is theirs.)
healthy=""
for _ in $(seq 1 60); do
  states="$(compose ps --format '{{.Service}}={{.Health}}' | sort | tr '\n' ' ')"
  if ! grep -qvE '=(healthy)?$' <(tr ' ' '\n' <<<"$states" | grep .); then healthy=1 && break; fi
  sleep 2
done
[ -n "$healthy" ] || fail "the stack did not recover after the outages: $states"
note "recovered: $states"

mkdir -p "$work/scrapes"
for s in "${services[@]}"; do scrape "${s%:*}" "${s#*:}" >"$work/scrapes/${s%:*}.prom" || fail "scraping ${s%:*}"; done
note "scraped: $(for s in "${services[@]}"; do printf '%s %s series; ' "${s%:*}" "$(grep -vc '^#' "$work/scrapes/${s%:*}.prom")"; done)"
public_metrics="$(curl -s -o /dev/null -w '%{http_code}' "$gateway/metrics" || true)"
[ "$public_metrics" = 404 ] || fail "the gateway's public port answers /metrics with $public_metrics (it belongs on the admin port only)"
note "the gateway's public port has no /metrics (404)"
await metricscheck
metricscheck=("$bin/metricscheck" -scrapes "$work/scrapes" -prometheus-config infra/prometheus/prometheus.yml
  -datasources infra/grafana/provisioning/datasources -dashboards infra/grafana/dashboards -rules 'infra/prometheus/rules/*.yml')
checked metricscheck "${metricscheck[@]}"
# And the check can fail: the same run with a misspelled metric name added must fail, naming it.
if "${metricscheck[@]}" -rules infra/tools/metricscheck/testdata/wrong-metric-name.yml >"$work/metricscheck-wrong.log" 2>&1; then
  fail "metricscheck accepted a misspelled metric name"
fi
grep -q 'http_server_request_duraton_seconds_bucket' "$work/metricscheck-wrong.log" || fail "metricscheck did not name the misspelled metric"
note "self-test: with testdata/wrong-metric-name.yml it fails as it must:"
grep '^FAIL' "$work/metricscheck-wrong.log" | sed 's/^/      /'

step "traces: one order, one trace from the gateway through the relay to inventory and payment (Jaeger)"
trace_id="$(openssl rand -hex 16)"
code="$(curl -sS -o "$work/order-traced.json" -w '%{http_code}' -X POST "$gateway/v1/orders" \
  -H "authorization: Bearer $(token check-trace)" -H 'content-type: application/json' \
  -H "idempotency-key: $(cat /proc/sys/kernel/random/uuid)" -H "traceparent: 00-$trace_id-$(openssl rand -hex 8)-01" \
  -d '{"items":[{"sku":"BOLT-M8","quantity":1}],"payment":{"token":"tok_visa"}}')"
[[ "$code" =~ ^20[12]$ ]] || fail "placing the traced order: HTTP $code $(cat "$work/order-traced.json")"
compose exec -T -e TRACE_ID="$trace_id" gateway node - <infra/traces/trace.js >"$work/trace.log" 2>&1 ||
  { sed 's/^/    /' "$work/trace.log" >&2; fail "no single trace across gateway, order, relay, inventory and payment"; }
sed 's/^/    /' "$work/trace.log"
report+=("traces: $(head -1 "$work/trace.log")")

# ============================================================================ 10. static checks
step "static checks of what cannot run here (no registry: Prometheus and Grafana images)"
await promtool
"$promtool_bin" --version 2>&1 | head -1 | sed 's/^/    /' || true
checked "promtool-check-config" "$promtool_bin" check config infra/prometheus/prometheus.yml
checked "promtool-check-rules" "$promtool_bin" check rules infra/prometheus/rules/*.yml
checked "promtool-test-rules" "$promtool_bin" test rules infra/prometheus/tests/*.yml
await otelcol
checked "otelcol-validate" "$otelcol_bin" validate --config infra/otel-collector/config.yaml
note "otelcol validate (collector $OCB_VERSION components: $(grep -o 'gomod: [^ ]*' infra/otel-collector/validate/builder.yaml | awk -F/ '{printf "%s%s", sep, $NF; sep=", "}')): infra/otel-collector/config.yaml is valid"
note "dashboards: valid JSON, provisioned datasources, PromQL parsed and cross-checked (step 9)"

# ============================================================================ 11. graceful stop
step "docker compose down: every container stops on its own, exit code 0"
docker events --since "$(date +%s)" --filter type=container --filter event=die \
  --filter "label=com.docker.compose.project=$project" \
  --format '{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}' >"$work/die-events.txt" &
events_pid=$!
bg_pids+=($events_pid)
containers="$(compose ps -q | wc -l)"
down_started=$SECONDS
compose --profile observability down -v --remove-orphans >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "docker compose down"; }
down_took=$((SECONDS - down_started))
stack_up=0
sleep 2
kill "$events_pid" 2>/dev/null || true
sed 's/^/    /' "$work/die-events.txt"
[ "$(wc -l <"$work/die-events.txt")" -ge "$containers" ] || fail "expected $containers containers to stop, saw $(wc -l <"$work/die-events.txt")"
if awk '$2 != 0 { bad = 1 } END { exit !bad }' "$work/die-events.txt"; then
  fail "a container exited with a non-zero code (137: killed after the grace period)"
fi
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project")" ] || fail "containers left after down"
report+=("docker compose down: $containers containers, all exit code 0, in ${down_took} s")

# ============================================================================ summary
step "done"
timings+=("$(printf '%5ss  total' $((SECONDS - started)))")
printf '\n--- timings\n'
printf '    %s\n' "${timings[@]}"
printf '\n--- results\n'
printf '    %s\n' "${report[@]}"
printf '\ncheck: OK\n'
