#!/usr/bin/env bash
# Set-up, idempotent and quick when already done: the Debian/Ubuntu packages the lab
# needs (MariaDB and PostgreSQL, the mysqlclient build deps, wrk, ab), then .venv with the pinned
# Python packages from requirements.lock, hash-checked: a file whose sha256 is not in
# the lock makes pip refuse it and set-up fail.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The lab runs its own private servers under var/ (scripts/db.sh). Debian's postgresql package also
# creates its own "main" cluster on port 5432, which the lab never uses or touches.
PACKAGES=(mariadb-server postgresql default-libmysqlclient-dev pkg-config wrk apache2-utils python3-venv chromium)
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"

usage() {
  echo "usage: scripts/setup.sh    (installs system packages and .venv; no options)"
  exit "${1:-0}"
}

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      echo "setup: missing packages: ${missing[*]}" >&2
      echo "setup: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_venv() {
  local stamp="$VENV/.requirements.lock.sha256" want
  want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  echo "setup: installing Python packages from requirements.lock (hash-checked)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$LOCK"
  echo "$want" > "$stamp"
}

main() {
  [[ $# -eq 0 ]] || { [[ "$1" == "-h" || "$1" == "--help" ]] && usage 0; usage 2 >&2; }
  command -v apt-get >/dev/null || { echo "setup: apt-get not found; this lab supports Debian/Ubuntu" >&2; exit 1; }
  install_packages
  install_venv
  echo "setup: ready (system packages present, venv at .venv)"
}

main "$@"
