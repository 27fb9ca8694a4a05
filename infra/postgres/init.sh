#!/bin/sh
# docker compose: the Postgres image runs this once, on an empty data folder. One role and one database
# per service (infra/postgres/init.sql); the passwords come from the environment (.env), never from a file
# in the repository.
set -eu
for service in inventory executor migration telemetry; do
  var="BERTH_$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  eval "password=\${$var:?$var is not set (docker compose reads it from .env)}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="berth_$service" -v password="$password" -f /etc/berth/init.sql
done
