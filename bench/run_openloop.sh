#!/usr/bin/env bash
# Measure the lab's stacks at set arrival rates with the lab's open-loop generator, after
# wrk has measured each stack's capacity (-h lists the options; docs/openloop.md explains).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_tool.sh" openloop "$@"
