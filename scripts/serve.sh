#!/usr/bin/env bash
# Serve one stack by hand under the lab's limits: scripts/serve.sh STACK [--port N].
# STACK: any registered stack (lab/stacks.py), or django (WSGI or ASGI as USE_ASGI says
# in settings.env; the environment overrides it) or fastapi.
# Ctrl-C or SIGTERM stops the server and removes its cgroup.
set -euo pipefail

usage() {
  echo "usage: scripts/serve.sh STACK [--port N]"
  echo "  STACK    a registered stack (scripts/serve.sh --list), or:"
  echo "  django   Django on Granian over WSGI (USE_ASGI=false) or ASGI (USE_ASGI=true)"
  echo "  fastapi  the FastAPI mirror on Granian"
  exit "${1:-0}"
}

main() {
  [[ $# -ge 1 ]] || usage 2 >&2
  [[ "$1" == "-h" || "$1" == "--help" ]] && usage 0
  # shellcheck source=scripts/_venv.sh
  source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
  exec "$PYTHON" -m lab.serve "$@"
}

main "$@"
