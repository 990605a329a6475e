#!/usr/bin/env bash
# Installs what building and testing stockraft needs on a fresh Debian machine, and touches
# nothing that is already there. Run by `make run` and `make test` (through `make deps`).
#
#   - a C toolchain, for crates that build C code;
#   - libclang, which the RocksDB bindings need at build time (bindgen);
#   - kill(1) (procps), which the chaos runs use to pause and resume nodes (SIGSTOP, SIGCONT);
#   - the DejaVu Sans font (fonts-dejavu-core), which stockbench --plot draws its text with;
#   - Python 3 with venv, for the Python client's tests (clients/python installs its own
#     packages with pip into a virtual environment there);
#   - Node.js and npm, which fetch buf (@bufbuild/buf) for `make lint` (scripts/buf.sh);
#   - promtool (Debian's prometheus package), which checks the alert rules, their unit tests
#     and the dashboard's queries (scripts/monitoring.sh);
#   - systemd-analyze and systemd-sysusers (Debian's systemd package), which check the systemd
#     units that ship in cluster/systemd (scripts/systemd.sh); nothing is started with them.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install a Rust toolchain (https://rustup.rs) and run this again" >&2
  exit 1
fi

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing+=(procps)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
