#!/usr/bin/env bash
# Shared body of bench/run_wrk.sh, bench/run_ab.sh and bench/run_openloop.sh: bench/run_tool.sh TOOL [options].
# Hands every option to the Python driver (bench/driver/cli.py) with the tool fixed;
# -h prints the driver's own help (every option and profile).
set -euo pipefail

main() {
  local tool="$1" arg
  shift
  for arg in "$@"; do
    case "$arg" in
      --tool|--tool=*) echo "run_$tool.sh: --tool is not allowed: this script runs $tool" >&2; exit 2 ;;
    esac
  done
  # shellcheck source=scripts/_venv.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_venv.sh"
  BENCH_PROG="bench/run_$tool.sh" exec "$PYTHON" -m bench run --tool "$tool" "$@"
}

main "$@"
