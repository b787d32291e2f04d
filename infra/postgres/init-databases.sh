#!/usr/bin/env bash
# Runs once, when the PostgreSQL container starts on an empty data directory (the official
# image's /docker-entrypoint-initdb.d convention). One database per service, each owned by a
# role of its own that can connect to nothing else: a service can neither read nor migrate
# another service's data, as in production.
#
#   SERVICE_DATABASES         space-separated service names (default: order inventory payment)
#   <SERVICE>_DB_PASSWORD     the password of role acme_<service> (e.g. ORDER_DB_PASSWORD)
#
# The database and the role are both named acme_<service>, like `npm start` names them.
set -euo pipefail

for service in ${SERVICE_DATABASES:-order inventory payment}; do
  name="acme_${service}"
  password_var="$(printf '%s' "$service" | tr '[:lower:]-' '[:upper:]_')_DB_PASSWORD"
  password="${!password_var:-}"
  if [ -z "$password" ]; then
    echo "init-databases: $password_var is not set" >&2
    exit 1
  fi
  echo "init-databases: role and database $name"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --no-psqlrc \
    --set name="$name" --set password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL ON DATABASE :"name" TO :"name";
SQL
done
