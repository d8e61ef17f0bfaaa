#!/usr/bin/env bash
# The lab's private database server (DB_ENGINE: MariaDB under var/mysql, PostgreSQL under
# var/postgresql): start | stop | status | reset.
# With DATABASE_URL set in settings.env, nothing is started and that server is used.
set -euo pipefail

usage() {
  echo "usage: scripts/db.sh start|stop|status|reset" >&2
  exit 2
}

main() {
  [[ $# -eq 1 ]] || usage
  case "$1" in
    start|stop|status|reset) ;;
    -h|--help) echo "usage: scripts/db.sh start|stop|status|reset"; exit 0 ;;
    *) usage ;;
  esac
  # shellcheck source=scripts/_venv.sh
  source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
  exec "$PYTHON" -m lab.db "$1"
}

main "$@"
