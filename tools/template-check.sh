#!/usr/bin/env bash
# The template as a template, checked in a temporary clone of the committed HEAD:
#
#   bash tools/template-check.sh            generate + rename, then npm test, bash k8s/check.sh
#                                           and the compose config check
#   bash tools/template-check.sh --short    the CI variant: the new service's and the contracts'
#                                           tests (Node and Deno) instead of npm test, and
#                                           k8s/check.sh without the rolling-restart rehearsal
#   bash tools/template-check.sh --infra    also bash infra/check.sh (Docker; heavy)
#
# 1. clones HEAD into a temporary directory and installs (node_modules copied from here when
#    present: same lockfile);
# 2. `npm run new:service -- shipping`, then `npm run rename -- --name myco`: both must work
#    on the other's output;
# 3. `git grep -i acme` must find nothing;
# 4. the workspace check (format, types, lint), the tests, `bash k8s/check.sh`, and
#    `docker compose config` of every profile, which must list the new service.
# Needs what those need: Node 24 (tools/node24.sh), Go for k8s/check.sh, and a docker compose
# binary (the docker CLI plugin, or the one infra/check.sh builds into its cache).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
mode=full
infra=0
for arg in "$@"; do
  case "$arg" in
    --short) mode=short ;;
    --infra) infra=1 ;;
    *) echo "usage: bash tools/template-check.sh [--short] [--infra]" >&2; exit 2 ;;
  esac
done
started=$SECONDS
step() { printf '\n=== %s (%ss)\n' "$1" "$((SECONDS - started))"; }
fail() { echo "template-check: $*" >&2; exit 1; }

. tools/node24.sh
export NX_DAEMON=false NX_TUI=false NX_NO_CLOUD=true
# Caches named after the template: fixed here, before the rename changes their names.
export K8S_CHECK_CACHE="${K8S_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acme-k8s-check}"
infra_cache="${ACME_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acme-template/infra}"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif [ -x "$infra_cache/bin/docker-compose" ]; then
  compose=("$infra_cache/bin/docker-compose")
else
  fail "no docker compose: install the docker CLI plugin, or run bash infra/check.sh once (it builds one)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/template-check.XXXXXX")
# Readable by others: run as root, the embedded PostgreSQL runs its binaries as another user.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
step "clone of HEAD ($(git rev-parse --short HEAD)) in $work"
git clone -q "$repo" "$work/repo"
cd "$work/repo"
if [ -d "$repo/node_modules" ]; then cp -a "$repo/node_modules" .; else npm install --no-audit --no-fund; fi

step "npm run new:service -- shipping"
npm run -s new:service -- shipping

step "npm run rename -- --name myco"
npm run -s rename -- --name myco --scope @myco
npm run -s rename -- --name myco --scope @myco | grep -q ": 0 files changed, 0 moved" || fail "a second rename changed files"

step "git grep -i acme: nothing left"
if git grep --untracked -n -i acme; then fail "names of the template left after the rename (above)"; fi

step "workspace check: format, types, lint"
npm run -s check:workspace

if [ "$mode" = short ]; then
  step "the new service and the contracts: typecheck, lint, tests on Node and Deno"
  npx nx run-many -t typecheck lint -p shipping contracts
  node tools/with-postgres.ts node tools/test-totals.ts nx run-many -t test test:deno -p shipping contracts -- \
    --reporter=default --reporter=@myco/testing/TotalsReporter
  step "bash k8s/check.sh (without the rehearsal)"
  K8S_CHECK_SKIP_REHEARSAL=1 bash k8s/check.sh
else
  step "npm test"
  npm test
  step "bash k8s/check.sh"
  bash k8s/check.sh
fi

step "docker compose config (every profile) lists shipping"
"${compose[@]}" -f infra/compose.yaml --profile observability --profile k6 config --quiet
"${compose[@]}" -f infra/compose.yaml config --services | grep -qx shipping || fail "shipping is not a compose service"

if [ "$infra" = 1 ]; then
  step "bash infra/check.sh"
  MYCO_INFRA_CACHE="$infra_cache" flock /tmp/acme-docker.lock bash infra/check.sh
fi
step "done: generated, renamed, green"
