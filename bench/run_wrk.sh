#!/usr/bin/env bash
# Measure the lab's stacks with wrk under the lab's limits; every option is passed to the
# Python driver (bench/driver/cli.py) with the tool fixed. -h lists the options.
set -euo pipefail

usage() {
  echo "usage: bench/run_wrk.sh [--stacks S] [--endpoints E] [--concurrency \"1 16 64\"] [--duration S]"
  echo "       [--repeats N] [--profile smoke|quick|standard|full] [--out DIR] [--url URL] [--resume RUN_DIR]"
  echo "       [--seed N] [--report]"
  exit "${1:-0}"
}

main() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      -h|--help) usage 0 ;;
      --tool|--tool=*) echo "run_wrk.sh: --tool is not allowed: this script runs wrk" >&2; exit 2 ;;
    esac
  done
  # shellcheck source=scripts/_venv.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_venv.sh"
  BENCH_PROG="bench/run_wrk.sh" exec "$PYTHON" -m bench run --tool wrk "$@"
}

main "$@"
