#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest on SQLite and on a real PostgreSQL server
# that this script starts and stops. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
eval "$(scripts/pg_server.sh start)"
trap 'scripts/pg_server.sh stop "$PG_TEST_DIR"' EXIT
echo "PostgreSQL for tests: ${TGD_TEST_DATABASE_URL}"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
"$venv/bin/lint-imports" --no-cache
"$venv/bin/python" -m pytest "$@"
