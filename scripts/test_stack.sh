#!/usr/bin/env bash
# The failure drills (tests/stack): each module starts the production topology of
# scripts/stack.py (nginx, two app processes, PostgreSQL primary + standby, Redis, two
# schedulers, the fallback process) in a temp directory on free loopback ports, breaks
# it, and checks that no alert was lost. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
"$venv/bin/python" -m pytest tests/stack --stack "$@"
