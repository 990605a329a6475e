#!/usr/bin/env bash
# make test-python (and make test): the Python client in clients/python, against a real 3-node
# cluster. Creates clients/python/.venv if missing, installs clients/python/requirements.txt
# into it with pip, generates the stubs from proto/ with grpcio-tools into
# clients/python/generated, and runs clients/python/tests. STOCKD names the stockd binary
# (default: $CARGO_TARGET_DIR/debug/stockd, or target/debug/stockd; `cargo build --workspace`
# makes it).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=clients/python/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r clients/python/requirements.txt

generated=clients/python/generated
rm -rf "$generated"
mkdir -p "$generated"
"$venv/bin/python" -m grpc_tools.protoc -I proto --python_out="$generated" --grpc_python_out="$generated" \
  proto/stockraft/v1/types.proto proto/stockraft/v1/inventory.proto \
  proto/stockraft/v1/catalog.proto proto/stockraft/v1/cluster.proto

# The debug build that `make test` made (CI points CARGO_TARGET_DIR outside the clone).
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target=$PWD/$target ;; esac
export STOCKD=${STOCKD:-$target/debug/stockd}
if [ ! -x "$STOCKD" ]; then
  echo "python-client: no stockd at $STOCKD (build it with cargo build --workspace, or set STOCKD)" >&2
  exit 1
fi
cd clients/python
exec .venv/bin/python -m unittest discover -s tests -v
