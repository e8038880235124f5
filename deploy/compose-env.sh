#!/usr/bin/env bash
# deploy/compose-env.sh — prepare what docker-compose.yml reads (make compose-env).
#
#   .env        copied from .env.example, only when there is no .env yet:
#               settings (MTM_*), never secrets
#   secrets/    one file per secret (compose `secrets:`), each made only when
#               it does not exist yet: random passwords and keys, and the
#               files derived from them (the URLs with the passwords in,
#               RabbitMQ's default user)
#
# Nothing that exists is ever overwritten: edit .env and secrets/* by hand;
# delete a file to have it made again (a changed database or broker
# password also needs the volume deleted: docker compose down -v).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -e .env ]]; then
	echo "compose-env: .env exists; left as it is"
else
	cp .env.example .env
	echo "compose-env: wrote .env from .env.example"
fi

umask 077
mkdir -p secrets
chmod 0700 secrets

# Secrets are mounted into containers whose processes run as other users
# (postgres, rabbitmq, mtm, nobody): readable files, in a folder only the
# owner can enter on this machine.
put() {
	local name=$1 value=$2
	if [[ -e secrets/$name ]]; then
		echo "compose-env: secrets/$name exists; left as it is"
		return
	fi
	printf '%s\n' "$value" >"secrets/$name.tmp"
	chmod 0444 "secrets/$name.tmp"
	mv "secrets/$name.tmp" "secrets/$name"
	echo "compose-env: wrote secrets/$name"
}

# hex: nothing to escape in a URL or a configuration file
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

for s in postgres_password mtm_pg_password pg_exporter_password rabbitmq_password \
	mtm_admin_password grafana_admin_password; do
	put "$s" "$(random 18)"
done
for s in mtm_jwt_secret mtm_alerts_token mtm_metrics_token; do
	put "$s" "$(random 32)"
done

read_secret() { tr -d '\n' <"secrets/$1"; }
put mtm_pg_url "postgresql://mtm:$(read_secret mtm_pg_password)@postgres:5432/mtm"
# vhost "/" spelled out: in an AMQP URI a bare trailing "/" names the empty vhost
put mtm_amqp_url "amqp://mtm:$(read_secret rabbitmq_password)@rabbitmq:5672/%2f"
put rabbitmq_users.conf "default_user = mtm
default_pass = $(read_secret rabbitmq_password)
default_user_tags.administrator = true"
