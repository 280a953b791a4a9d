#!/bin/sh
# The container's entrypoint: turns secrets mounted as files into the environment variables the gateway and Npgsql
# read, then runs the command given (exec, so SIGTERM reaches the gateway). For each NAME below, NAME_FILE names a file
# whose content (trailing newlines removed) becomes NAME; giving both NAME and NAME_FILE is refused. Compose's
# `secrets:` and Kubernetes' secret volumes mount files; nothing secret then sits in the compose file or the manifest.
#   PGPASSWORD                            the PostgreSQL store's password (Npgsql reads it; --store carries none)
#   SHARPEYES_ADMIN_KEY                   the first admin key (used only while the store has no key at all)
#   SHARPEYES_CENTRE_KEY                  the centre's API key for the push outbox
#   SharpEyes__ExternalBroker__Password   the gateway's password at the external MQTT broker
set -eu
for name in PGPASSWORD SHARPEYES_ADMIN_KEY SHARPEYES_CENTRE_KEY SharpEyes__ExternalBroker__Password; do
  file=$(printenv "${name}_FILE" || true)
  [ -n "$file" ] || continue
  if [ -n "$(printenv "$name" || true)" ]; then
    echo "sharpeyes-entrypoint: both $name and ${name}_FILE are set; give one" >&2
    exit 2
  fi
  if [ ! -r "$file" ]; then
    echo "sharpeyes-entrypoint: ${name}_FILE names $file, which this user ($(id -u)) cannot read" >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done
exec "$@"
