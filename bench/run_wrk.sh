#!/usr/bin/env bash
# Measure the lab's stacks with wrk under the lab's limits (-h lists the options).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_tool.sh" wrk "$@"
