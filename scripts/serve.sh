#!/usr/bin/env bash
# Serve one stack by hand under the lab's limits: scripts/serve.sh django|fastapi [--port N].
# django: WSGI or ASGI as USE_ASGI says (settings.env; the environment overrides it).
# Ctrl-C or SIGTERM stops the server and removes its cgroup.
set -euo pipefail

usage() {
  echo "usage: scripts/serve.sh django|fastapi [--port N]"
  echo "  django   Granian over WSGI (USE_ASGI=false) or ASGI (USE_ASGI=true)"
  echo "  fastapi  the FastAPI mirror over ASGI"
  exit "${1:-0}"
}

main() {
  [[ $# -ge 1 ]] || usage 2 >&2
  case "$1" in
    -h|--help) usage 0 ;;
    django|fastapi) ;;
    *) echo "serve.sh: unknown stack '$1'; allowed: django, fastapi" >&2; exit 2 ;;
  esac
  # shellcheck source=scripts/_venv.sh
  source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
  exec "$PYTHON" -m lab.serve "$@"
}

main "$@"
