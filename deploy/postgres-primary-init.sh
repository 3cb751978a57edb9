#!/usr/bin/env bash
# compose.yaml: first start of the primary (docker-entrypoint-initdb.d). The replication
# role, its password-only access, and synchronous replication to the standby named
# tgd_standby (a commit returns once the standby has the WAL: promoting it loses no
# alert). `make stack` does the same in scripts/stack.py.
set -euo pipefail
password=$(cat /run/secrets/replication_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${password}';
ALTER SYSTEM SET synchronous_standby_names = 'tgd_standby';
SELECT pg_create_physical_replication_slot('tgd_standby');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
