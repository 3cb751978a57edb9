#!/usr/bin/env bash
# compose.yaml: the streaming-replication standby. First start: a base backup of the
# primary (pg_basebackup -R writes standby.signal); then it follows the primary as
# tgd_standby through the slot. Promotion is by hand: docs/deployment.md.
set -euo pipefail
export PGPASSWORD
PGPASSWORD=$(cat /run/secrets/replication_password)
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -q; do sleep 1; done
  pg_basebackup -h "$PRIMARY_HOST" -U replicator -D "$PGDATA" -X stream -S tgd_standby -R --checkpoint=fast
  cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=${PRIMARY_HOST} user=replicator password=${PGPASSWORD} application_name=tgd_standby'
primary_slot_name = 'tgd_standby'
CONF
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c wal_log_hints=on -c max_connections=300
