# Sourced by the scripts: the repo root and the venv's python, or a clear error.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
if [[ ! -x "$PYTHON" ]]; then
  echo "$(basename "$0"): no virtualenv at $ROOT/.venv; run scripts/setup.sh first" >&2
  exit 1
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
