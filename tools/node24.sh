# Sourced by .ci/run and k8s/check.sh: puts Node 24 on the PATH, installing it from the npm
# registry (the `node` package ships the real binary) into a cache when the machine's node is
# older. One cache for both, so it is installed once; it is installed beside the cache and moved
# into place, so that two runs at once never see a half-written binary.
node_version=24.21.0
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 24 ]; then
  node_tools="${XDG_CACHE_HOME:-$HOME/.cache}/acme-template/node-$node_version"
  if [ ! -x "$node_tools/node_modules/node/bin/node" ]; then
    echo "installing Node $node_version from the npm registry"
    staging="$node_tools.$$"
    rm -rf "$staging"
    npm install --no-save --no-package-lock --prefix "$staging" "node@$node_version"
    mv -T "$staging" "$node_tools" 2>/dev/null || rm -rf "$staging"
  fi
  export PATH="$node_tools/node_modules/node/bin:$PATH"
fi
