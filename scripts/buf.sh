#!/usr/bin/env bash
# `buf lint` on proto/ with the checked-in buf.yaml, and `buf breaking` against the newest
# release tag (v*) when there is one. buf comes from the npm registry (@bufbuild/buf, pinned
# below) into target/tools/buf, so nothing is installed system-wide and CI needs no other
# network than the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
tools=${CARGO_TARGET_DIR:-target}/tools/buf
buf=$tools/node_modules/.bin/buf
if ! [ -x "$buf" ] || [ "$("$buf" --version)" != "$BUF_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed: run scripts/ensure-deps.sh (it installs nodejs and npm)" >&2
    exit 1
  fi
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi

"$buf" lint
echo "buf lint: proto/ is clean"

tag=$(git tag --list 'v*' --sort=-v:refname | head -n 1)
if [ -z "$tag" ]; then
  echo "buf breaking: no release tag (v*) yet, nothing to compare against"
else
  "$buf" breaking --against ".git#tag=$tag"
  echo "buf breaking: proto/ is compatible with $tag"
fi
