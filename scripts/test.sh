#!/usr/bin/env bash
# The whole test suite: lint, types, the import contract, then pytest on SQLite and on a
# real PostgreSQL server that this script starts and stops.
#
# Without arguments: the bulk of the suite runs in 3 pytest-xdist workers (tests spend
# much of their time waiting on a database, a server or a subprocess; each worker has
# its own PostgreSQL database), then the tests that start real server processes and a
# browser (tests/browser, tests/system) run alone, so their timings are not skewed by
# the other workers. With arguments, they all go to one pytest run.
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
if [ $# -gt 0 ]; then
  "$venv/bin/python" -m pytest "$@"
  exit
fi
status=0
"$venv/bin/python" -m pytest -n "${TGD_TEST_WORKERS:-3}" --ignore=tests/browser --ignore=tests/system ||
  status=$?
"$venv/bin/python" -m pytest tests/browser tests/system || status=$?
exit "$status"
