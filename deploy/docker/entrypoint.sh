#!/bin/sh
# Entry point of the mtm image: prepares $MTM_VAR_DIR, applies the database
# migrations (waiting for PostgreSQL), then execs the command, by default
# supervisord with deploy/docker/supervisord.conf (PID 1).
set -eu

: "${MTM_HOME:=/opt/mtm}"
: "${MTM_VAR_DIR:=/var/lib/mtm}"
: "${MTM_METRICS_DIR:=$MTM_VAR_DIR/metrics}"
export MTM_HOME MTM_VAR_DIR MTM_METRICS_DIR

die() { printf 'mtm-entrypoint: %s\n' "$*" >&2; exit 2; }

# Secrets as files (docker compose / Kubernetes secrets): MTM_X_FILE=path
# sets MTM_X to the file's content (without its trailing newline), unless
# MTM_X is set itself.
for var in $(env | sed -n 's/^\(MTM_[A-Z0-9_]*\)_FILE=.*/\1/p'); do
    eval "file=\${${var}_FILE}"
    unset "${var}_FILE"
    if eval "[ -n \"\${${var}:-}\" ]"; then
        continue
    fi
    [ -r "$file" ] || die "${var}_FILE: cannot read $file"
    value=$(cat "$file") || die "${var}_FILE: cannot read $file"
    export "$var=$value"
done

mkdir -p "$MTM_VAR_DIR/log" "$MTM_VAR_DIR/run" "$MTM_METRICS_DIR" \
    || die "MTM_VAR_DIR: cannot create directories under $MTM_VAR_DIR"
[ -w "$MTM_METRICS_DIR" ] \
    || die "MTM_METRICS_DIR: $MTM_METRICS_DIR is not writable by $(id -un) (uid $(id -u))"

# Leftovers of a previous run of this container (socket, pid files).
rm -f "$MTM_VAR_DIR"/run/*.sock "$MTM_VAR_DIR"/run/*.pid

# lighttpd writes to $MTM_VAR_DIR/log/lighttpd-{error,access}.log: in the
# container both go to the container's log (docker compose logs app). Both to
# stderr: lighttpd points its own stdout at /dev/null.
ln -sfn /dev/stderr "$MTM_VAR_DIR/log/lighttpd-error.log"
ln -sfn /dev/stderr "$MTM_VAR_DIR/log/lighttpd-access.log"

if [ "$#" -eq 0 ]; then
    set -- supervisord -n -c "$MTM_HOME/docker/supervisord.conf"
fi

# Migrate before the app starts (consumerd would also do it at start, under an
# advisory lock; doing it here keeps mtm-api from serving an empty schema).
# Set MTM_MIGRATE_ON_START=0 to skip. Exit status 2 is a configuration error:
# no retry. Anything else (PostgreSQL not up yet) is retried until
# MTM_MIGRATE_TIMEOUT seconds have passed.
if [ "$1" = supervisord ] && [ "${MTM_MIGRATE_ON_START:-1}" = 1 ]; then
    deadline=$(( $(date +%s) + ${MTM_MIGRATE_TIMEOUT:-60} ))
    until "$MTM_HOME/bin/mtm-migrate"; do
        rc=$?
        [ "$rc" -eq 2 ] && exit 2
        if [ "$(date +%s)" -ge "$deadline" ]; then
            printf 'mtm-entrypoint: mtm-migrate failed (exit %s) for %ss; giving up\n' \
                "$rc" "${MTM_MIGRATE_TIMEOUT:-60}" >&2
            exit 1
        fi
        sleep 2
    done
fi

exec "$@"
