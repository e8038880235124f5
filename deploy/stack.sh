#!/usr/bin/env bash
# deploy/stack.sh — the local mtm stack (SPEC §6), run by supervisord.
#
#   deploy/stack.sh run              prepare var/, run everything in the foreground (Ctrl-C stops all)
#   deploy/stack.sh start            the same in the background
#   deploy/stack.sh stop             stop every process, then supervisord
#   deploy/stack.sh status           list the processes; exit 1 if one that should run is down
#                                    (3 if the stack is not running)
#   deploy/stack.sh reset [--yes]    stop, then delete var/ (asks; --yes or MTM_RESET_YES=1 do not)
#   deploy/stack.sh psql [ARGS]      psql to MTM_PG_URL
#   deploy/stack.sh rabbitmqctl ARGS rabbitmqctl against the private RabbitMQ node
#
# State: $MTM_HOME/var (MTM_HOME = this repository): pg/ (PostgreSQL 127.0.0.1:5433),
# rabbitmq/ (node mtm@localhost, AMQP 5673, dist 25673, epmd 4370), log/, run/, metrics/,
# prometheus/, secrets/ (admin_password and jwt_secret, generated once, mode 0600).
# Variables in the environment (or in the file named by MTM_CONFIG) win over what is kept
# in var/. With MTM_PG_URL / MTM_AMQP_URL set, the private PostgreSQL / RabbitMQ do not run.
# Make builds the binaries first (build/release/bin, or MTM_BIN_DIR).
set -euo pipefail

MTM_HOME=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
VAR=$MTM_HOME/var
CONF=$MTM_HOME/supervisord.conf
RABBITMQ_NODE=mtm@localhost

log() { printf 'stack: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ---- configuration --------------------------------------------------------

# The MTM_CONFIG file (NAME=VALUE lines, as the binaries read it): values for
# variables not set in the environment, so that this script and the binaries agree.
load_config_file() {
	[[ -n ${MTM_CONFIG:-} ]] || return 0
	[[ -r $MTM_CONFIG ]] || die "MTM_CONFIG: cannot read $MTM_CONFIG"
	local line name value
	local -A from_file=() # the last assignment in the file wins, as in a shell
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Z0-9_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]] || continue
		name=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
		if [[ ${#value} -ge 2 && ${value:0:1} == ["'\""] && ${value: -1} == "${value:0:1}" ]]; then
			value=${value:1:${#value}-2}
		fi
		if [[ $name == MTM_* ]]; then
			from_file[$name]=$value
		fi
	done <"$MTM_CONFIG"
	for name in "${!from_file[@]}"; do
		if [[ -z ${!name:-} ]]; then
			export "$name=${from_file[$name]}"
		fi
	done
}

is_bool() { [[ $1 == true || $1 == false ]]; }

# Exports everything supervisord.conf and the programs read (no secrets, no side effects).
setup_env() {
	load_config_file
	export MTM_HOME MTM_VAR_DIR=$VAR
	export MTM_BIN_DIR=${MTM_BIN_DIR:-$MTM_HOME/build/release/bin}
	export MTM_SQL_DIR=${MTM_SQL_DIR:-$MTM_HOME/sql}
	export MTM_METRICS_DIR=${MTM_METRICS_DIR:-$VAR/metrics}
	export MTM_FCGI_SOCKET=${MTM_FCGI_SOCKET:-$VAR/run/mtm-api.sock}
	export MTM_EVENTS_SOCKET=${MTM_EVENTS_SOCKET:-$VAR/run/mtm-events.sock}
	export MTM_HTTP_PORT=${MTM_HTTP_PORT:-8080}
	export MTM_HTTP_BIND=${MTM_HTTP_BIND:-127.0.0.1}
	HTTP_HOST=$MTM_HTTP_BIND
	[[ $HTTP_HOST == 0.0.0.0 ]] && HTTP_HOST=127.0.0.1
	export MTM_LOG_LEVEL=${MTM_LOG_LEVEL:-info}
	export MTM_ADMIN_USER=${MTM_ADMIN_USER:-admin}

	# Ports of the private servers (used only when they run).
	export MTM_PG_PORT=${MTM_PG_PORT:-5433}
	export MTM_AMQP_PORT=${MTM_AMQP_PORT:-5673}
	export MTM_RABBITMQ_DIST_PORT=$((MTM_AMQP_PORT + 20000))
	export MTM_EPMD_PORT=${MTM_EPMD_PORT:-4370}

	# A URL given by the user means an external server: do not start our own.
	if [[ -n ${MTM_PG_URL:-} ]]; then
		MTM_START_POSTGRES=false
	else
		MTM_START_POSTGRES=true
		MTM_PG_URL=postgresql://mtm:mtm@127.0.0.1:$MTM_PG_PORT/mtm
	fi
	if [[ -n ${MTM_AMQP_URL:-} ]]; then
		MTM_START_RABBITMQ=false
	else
		MTM_START_RABBITMQ=true
		MTM_AMQP_URL=amqp://mtm:mtm@127.0.0.1:$MTM_AMQP_PORT/
	fi
	export MTM_PG_URL MTM_AMQP_URL MTM_START_POSTGRES MTM_START_RABBITMQ
	# consumerd processes sharing the tenants (docs/architecture.md, "Running
	# across hosts"), each writing its metrics textfile into var/metrics/
	# under its own name (MTM_CONSUMER_NAME=consumerd-N, supervisord.conf).
	export MTM_CONSUMERS=${MTM_CONSUMERS:-1}
	[[ $MTM_CONSUMERS =~ ^[1-9][0-9]?$ ]] || die "MTM_CONSUMERS: must be 1 to 99"
	export MTM_START_NODE_EXPORTER=${MTM_START_NODE_EXPORTER:-true}
	export MTM_START_PROMETHEUS=${MTM_START_PROMETHEUS:-true}
	export MTM_START_ALERTMANAGER=${MTM_START_ALERTMANAGER:-$MTM_START_PROMETHEUS}
	is_bool "$MTM_START_NODE_EXPORTER" || die "MTM_START_NODE_EXPORTER: must be true or false"
	is_bool "$MTM_START_PROMETHEUS" || die "MTM_START_PROMETHEUS: must be true or false"
	is_bool "$MTM_START_ALERTMANAGER" || die "MTM_START_ALERTMANAGER: must be true or false"
	# The console's charts read the stack's own Prometheus (through the API).
	if [[ $MTM_START_PROMETHEUS == true ]]; then
		export MTM_PROMETHEUS_URL=${MTM_PROMETHEUS_URL:-http://127.0.0.1:9090}
	fi

	# The servers run as their Debian users when we are root (initdb refuses root).
	MTM_SUPERVISOR_USER=$(id -un)
	export MTM_SUPERVISOR_USER
	if [[ $(id -u) -eq 0 ]]; then
		export MTM_PG_OS_USER=postgres MTM_RABBITMQ_OS_USER=rabbitmq MTM_PROMETHEUS_OS_USER=prometheus
	else
		MTM_PG_OS_USER=$(id -un)
		export MTM_PG_OS_USER MTM_RABBITMQ_OS_USER=$MTM_PG_OS_USER MTM_PROMETHEUS_OS_USER=$MTM_PG_OS_USER
	fi
	if [[ -z ${MTM_PG_BIN_DIR:-} ]]; then
		MTM_PG_BIN_DIR=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	fi
	export MTM_PG_BIN_DIR=${MTM_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
}

# secret NAME GENERATOR: the value kept in var/secrets/NAME, generated on first use.
secret() {
	local file=$VAR/secrets/$1
	if [[ ! -s $file ]]; then
		(umask 077 && "$2" >"$file.tmp" && mv -f "$file.tmp" "$file")
	fi
	cat "$file"
}
gen_password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
gen_hex32() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n' && echo; }

setup_secrets() {
	if [[ -n ${MTM_ADMIN_PASSWORD:-} ]]; then
		ADMIN_PASSWORD_FROM=environment
	else
		MTM_ADMIN_PASSWORD=$(secret admin_password gen_password)
		ADMIN_PASSWORD_FROM=var/secrets/admin_password
	fi
	[[ -n ${MTM_JWT_SECRET:-} ]] || MTM_JWT_SECRET=$(secret jwt_secret gen_hex32)
	# Prometheus scrapes GET /api/metrics with the first; Alertmanager posts
	# to /api/alerts/webhook with the second.
	[[ -n ${MTM_METRICS_TOKEN:-} ]] || MTM_METRICS_TOKEN=$(secret metrics_token gen_hex32)
	[[ -n ${MTM_ALERTS_TOKEN:-} ]] || MTM_ALERTS_TOKEN=$(secret alerts_token gen_hex32)
	export MTM_ADMIN_PASSWORD MTM_JWT_SECRET MTM_METRICS_TOKEN MTM_ALERTS_TOKEN
	((${#MTM_JWT_SECRET} >= 32)) || die "MTM_JWT_SECRET: must be at least 32 bytes"
	((${#MTM_ADMIN_PASSWORD} >= 8)) || die "MTM_ADMIN_PASSWORD: must be at least 8 characters"
}

# ---- helpers --------------------------------------------------------------

# as USER CMD...: run CMD as USER (directly when that is us).
as() {
	local user=$1
	shift
	if [[ $user == "$(id -un)" ]]; then
		"$@"
	else
		runuser -u "$user" -- "$@"
	fi
}

ctl() { supervisorctl -c "$CONF" "$@"; }

# The pid of our supervisord, if it runs.
supervisord_pid() {
	local pid
	[[ -r $VAR/run/supervisord.pid ]] || return 1
	pid=$(<"$VAR/run/supervisord.pid")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		grep -qa supervisord "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HTTP_HOST:$MTM_HTTP_PORT$1" || true
}

rabbitmqctl_local() {
	as "$MTM_RABBITMQ_OS_USER" env HOME="$VAR/rabbitmq" ERL_EPMD_PORT="$MTM_EPMD_PORT" \
		RABBITMQ_CONF_ENV_FILE="$VAR/rabbitmq/rabbitmq-env.conf" \
		RABBITMQ_CONFIG_FILE="$VAR/rabbitmq/rabbitmq" \
		/usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODE" "$@"
}

# ---- state under var/ -----------------------------------------------------

init_dirs() {
	install -d -m 0755 "$VAR" "$VAR/log" "$VAR/run"
	install -d -m 0700 "$VAR/secrets"
	mkdir -p "$MTM_METRICS_DIR"
	if [[ $MTM_START_POSTGRES == true ]]; then
		install -d -m 0755 -o "$MTM_PG_OS_USER" "$VAR/run/pg"
	fi
	if [[ $MTM_START_PROMETHEUS == true ]]; then
		install -d -m 0755 -o "$MTM_PROMETHEUS_OS_USER" "$VAR/prometheus"
	fi
	if [[ $MTM_START_ALERTMANAGER == true ]]; then
		install -d -m 0755 -o "$MTM_PROMETHEUS_OS_USER" "$VAR/alertmanager" "$VAR/alertmanager/data"
	fi
}

# Prometheus and Alertmanager configurations, rewritten at every start from
# the templates in deploy/ (ports, paths, tokens of this stack). The tokens
# go into files only their user can read.
init_monitoring() {
	local u=$MTM_PROMETHEUS_OS_USER
	if [[ $MTM_START_PROMETHEUS == true ]]; then
		(umask 077 && printf '%s' "$MTM_METRICS_TOKEN" >"$VAR/prometheus/metrics_token")
		chown "$u" "$VAR/prometheus/metrics_token"
		sed -e "s|@MTM_HTTP_PORT@|$MTM_HTTP_PORT|g" -e "s|@VAR@|$VAR|g" -e "s|@MTM_HOME@|$MTM_HOME|g" \
			"$MTM_HOME/deploy/prometheus/prometheus.local.yml" >"$VAR/prometheus/prometheus.yml"
	fi
	if [[ $MTM_START_ALERTMANAGER == true ]]; then
		(umask 077 && printf '%s' "$MTM_ALERTS_TOKEN" >"$VAR/alertmanager/alerts_token")
		chown "$u" "$VAR/alertmanager/alerts_token"
		sed -e "s|@MTM_HTTP_PORT@|$MTM_HTTP_PORT|g" -e "s|@VAR@|$VAR|g" \
			"$MTM_HOME/deploy/alertmanager/alertmanager.local.yml" >"$VAR/alertmanager/alertmanager.yml"
	fi
}

# A cluster in var/pg with role mtm (password mtm, not a superuser: row-level
# security applies to it) owning database mtm. Built in var/pg.init and renamed
# when complete, so an interrupted first start simply starts over.
init_postgres() {
	[[ $MTM_START_POSTGRES == true ]] || return 0
	[[ -f $VAR/pg/PG_VERSION ]] && return 0
	[[ -x $MTM_PG_BIN_DIR/initdb ]] || die "PostgreSQL not found in $MTM_PG_BIN_DIR (run: make deps)"
	local u=$MTM_PG_OS_USER tmp=$VAR/pg.init pwfile=$VAR/run/pg/initdb.pw
	log "creating the PostgreSQL cluster in var/pg"
	rm -rf -- "$tmp"
	install -d -m 0700 -o "$u" "$tmp"
	secret postgres_password gen_password >/dev/null
	install -m 0600 -o "$u" "$VAR/secrets/postgres_password" "$pwfile"
	as "$u" "$MTM_PG_BIN_DIR/initdb" -D "$tmp" -U "$u" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host=scram-sha-256 >"$VAR/log/initdb.log" 2>&1 ||
		die "initdb failed, see var/log/initdb.log"
	rm -f -- "$pwfile"
	install -m 0644 -o "$u" /dev/null "$VAR/log/postgres-init.log"
	as "$u" "$MTM_PG_BIN_DIR/pg_ctl" -D "$tmp" -l "$VAR/log/postgres-init.log" -w -s \
		-o "-p $MTM_PG_PORT -k $VAR/run/pg -c listen_addresses=''" start
	if ! as "$u" "$MTM_PG_BIN_DIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$VAR/run/pg" -p "$MTM_PG_PORT" \
		-U "$u" -d postgres -c "CREATE ROLE mtm LOGIN PASSWORD 'mtm'" -c "CREATE DATABASE mtm OWNER mtm"; then
		as "$u" "$MTM_PG_BIN_DIR/pg_ctl" -D "$tmp" -m immediate -w -s stop || true
		die "creating role and database mtm failed"
	fi
	as "$u" "$MTM_PG_BIN_DIR/pg_ctl" -D "$tmp" -m fast -w -s stop
	mv -- "$tmp" "$VAR/pg"
}

# The node's folders and configuration. The user mtm/mtm with all permissions on
# vhost / is RabbitMQ's default user, created by the node itself on its first boot
# (no guest user is created). The configuration is rewritten at every start.
init_rabbitmq() {
	[[ $MTM_START_RABBITMQ == true ]] || return 0
	local d=$VAR/rabbitmq
	mkdir -p "$d/mnesia" "$d/log"
	cat >"$d/rabbitmq.conf" <<-'EOF'
		# Generated by deploy/stack.sh at every start; edits are lost.
		default_vhost = /
		default_user = mtm
		default_pass = mtm
		default_user_tags.administrator = true
		default_permissions.configure = .*
		default_permissions.read = .*
		default_permissions.write = .*
	EOF
	# The broker refuses bodies over MTM_MAX_BODY, as the API does.
	echo "max_message_size = ${MTM_MAX_BODY:-1048576}" >>"$d/rabbitmq.conf"
	echo '[].' >"$d/enabled_plugins"
	: >"$d/rabbitmq-env.conf" # keeps /etc/rabbitmq/rabbitmq-env.conf out; Erlang flags are in supervisord.conf
	chown -R "$MTM_RABBITMQ_OS_USER:" "$d"
	chmod 0750 "$d"
}

prepare() {
	setup_env
	init_dirs
	setup_secrets
	[[ -f $MTM_HOME/lighttpd.conf ]] || log "warning: lighttpd.conf is missing"
	local b
	for b in mtm-api mtm-events consumerd; do
		[[ -x $MTM_BIN_DIR/$b ]] || log "warning: $MTM_BIN_DIR/$b is missing (run: make)"
	done
}

# Fails when a port the stack is about to listen on is taken.
check_ports() {
	local -a ports=("$MTM_HTTP_PORT")
	[[ $MTM_START_POSTGRES == true ]] && ports+=("$MTM_PG_PORT")
	[[ $MTM_START_RABBITMQ == true ]] && ports+=("$MTM_AMQP_PORT" "$MTM_RABBITMQ_DIST_PORT" "$MTM_EPMD_PORT")
	[[ $MTM_START_NODE_EXPORTER == true ]] && ports+=(9100)
	[[ $MTM_START_PROMETHEUS == true ]] && ports+=(9090)
	[[ $MTM_START_ALERTMANAGER == true ]] && ports+=(9093)
	local p busy=()
	for p in "${ports[@]}"; do
		port_in_use "$p" && busy+=("$p")
	done
	((${#busy[@]} == 0)) || die "port(s) already in use on 127.0.0.1: ${busy[*]}"
}

# Before supervisord starts: nothing of ours runs, so stale sockets can go.
start_checks() {
	check_ports
	rm -f -- "$MTM_FCGI_SOCKET" "$MTM_EVENTS_SOCKET"
	init_postgres
	init_rabbitmq
	init_monitoring
}

# ---- reporting -------------------------------------------------------------

# Programs that should run: those supervisord starts automatically.
expected_programs() { ctl avail | awk '$4 == "auto" { print $1 }'; }

# Prints the programs that should run but do not (STARTING counts as
# running: it is RUNNING after startsecs); fails if there is one.
down_programs() {
	local status name state rc=0
	status=$(ctl status 2>/dev/null || true)
	for name in $(expected_programs); do
		state=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$status")
		if [[ $state != RUNNING && $state != STARTING ]]; then
			echo "$name ${state:-UNKNOWN}"
			rc=1
		fi
	done
	return "$rc"
}

describe() {
	local pg=external amqp=external
	[[ $MTM_START_POSTGRES == true ]] && pg="private, 127.0.0.1:$MTM_PG_PORT (var/pg)"
	[[ $MTM_START_RABBITMQ == true ]] && amqp="private, 127.0.0.1:$MTM_AMQP_PORT (var/rabbitmq)"
	log "PostgreSQL: $pg; RabbitMQ: $amqp"
}

# The URL and the admin login, kept in var/run/banner (0600) for as long as this
# stack runs: a later "start" shows what the running stack uses.
save_banner() {
	local pw=$MTM_ADMIN_PASSWORD
	[[ $ADMIN_PASSWORD_FROM == environment ]] && pw="(from MTM_ADMIN_PASSWORD)"
	(
		umask 077
		{
			echo
			echo "  mtm:         http://$HTTP_HOST:$MTM_HTTP_PORT/"
			echo "  admin login: $MTM_ADMIN_USER / $pw"
			if [[ $MTM_START_PROMETHEUS == true ]]; then
				echo "  prometheus:  http://127.0.0.1:9090/"
			fi
			if [[ $MTM_START_ALERTMANAGER == true ]]; then
				echo "  alerts:      http://127.0.0.1:9093/ (also in the console)"
			fi
			echo "  logs:        var/log/    state: var/    status: deploy/stack.sh status"
			echo
		} >"$VAR/run/banner"
	)
}
banner() { cat "$VAR/run/banner" 2>/dev/null || true; }

# Waits until /api/ready answers 200; fails early when a program cannot start.
wait_ready() {
	local timeout=${MTM_START_TIMEOUT:-120} start=$SECONDS down
	while ((SECONDS - start < timeout)); do
		[[ $(http_code /api/ready) == 200 ]] && return 0
		down=$(ctl status 2>/dev/null | awk '$2 == "FATAL" { print $1 }' || true)
		if [[ -n $down ]]; then
			log "failed to start: $(echo "$down" | tr '\n' ' ')(see var/log/)"
			return 1
		fi
		sleep 1
	done
	log "not ready after ${timeout}s: $(curl -s --max-time 2 "http://$HTTP_HOST:$MTM_HTTP_PORT/api/ready" || true)"
	return 1
}

# Each start marks its processes: supervisord and its children all inherit
# MTM_STACK_ID, which is kept in var/run/stack_id.
new_stack_id() {
	MTM_STACK_ID=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
	export MTM_STACK_ID
	echo "$MTM_STACK_ID" >"$VAR/run/stack_id"
}

# The processes of the last start that still run.
our_pids() {
	local id p
	id=$(cat "$VAR/run/stack_id" 2>/dev/null) || return 0
	[[ -n $id ]] || return 0
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} != "$$" && ${p#/proc/} != "$BASHPID" ]] || continue
		if grep -qzxF "MTM_STACK_ID=$id" "$p/environ" 2>/dev/null; then
			echo "${p#/proc/}"
		fi
	done
}

# After supervisord is gone, normally nothing of ours runs. If supervisord
# itself was killed, its orphans are stopped here (PostgreSQL with SIGINT, its
# fast shutdown; the others with SIGTERM; SIGKILL after 30 s), and an epmd that
# a hard-killed node left on our port is stopped too.
after_stop() {
	local pid pids left cmd
	pids=$(our_pids)
	if [[ -n $pids ]]; then
		log "stopping processes left without supervisord:"
		for pid in $pids; do
			[[ -e /proc/$pid ]] || continue
			cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-100)
			log "  $pid ${cmd:-($(cat "/proc/$pid/comm" 2>/dev/null))}"
			if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
				kill -INT "$pid" 2>/dev/null || true
			else
				kill -TERM "$pid" 2>/dev/null || true
			fi
		done
		for _ in $(seq 150); do
			left=$(for pid in $pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done || true)
			[[ -n $left ]] || break
			sleep 0.2
		done
		if [[ -n $left ]]; then
			log "killing what did not stop: $(echo "$left" | tr '\n' ' ')"
			# shellcheck disable=SC2086 # a list of pids
			kill -KILL $left 2>/dev/null || true
		fi
	fi
	if [[ $MTM_START_RABBITMQ == true ]] && epmd -port "$MTM_EPMD_PORT" -names >/dev/null 2>&1; then
		epmd -port "$MTM_EPMD_PORT" -kill >/dev/null 2>&1 || true
	fi
}

# ---- commands -----------------------------------------------------------------

cmd_run() {
	prepare
	supervisord_pid >/dev/null && die "the stack already runs in the background (deploy/stack.sh stop)"
	start_checks
	describe
	save_banner
	new_stack_id
	supervisord -n -c "$CONF" &
	local sup=$! waiter
	# Ctrl-C reaches supervisord too; it stops every program in reverse order.
	trap 'kill -TERM "$sup" 2>/dev/null || true' INT TERM HUP
	(
		if wait_ready; then
			banner
			log "ready; Ctrl-C stops everything"
		else
			banner
			log "not ready: see deploy/stack.sh status and var/log/; Ctrl-C stops everything"
		fi
	) &
	waiter=$!
	local rc=0
	while kill -0 "$sup" 2>/dev/null; do
		wait "$sup" || rc=$?
	done
	trap - INT TERM HUP
	kill "$waiter" 2>/dev/null || true
	wait "$waiter" 2>/dev/null || true
	rm -f -- "$VAR/run/banner"
	after_stop
	log "stopped"
	# 130 / 143: interrupted by a signal, which is how this command normally ends.
	((rc == 0 || rc > 128)) || return "$rc"
}

cmd_start() {
	prepare
	if supervisord_pid >/dev/null; then
		log "already running (changed settings apply after: deploy/stack.sh stop)"
		banner
		return 0
	fi
	start_checks
	describe
	save_banner
	new_stack_id
	supervisord -c "$CONF"
	for _ in $(seq 50); do
		ctl pid >/dev/null 2>&1 && break
		sleep 0.2
	done
	local rc=0
	wait_ready || rc=1
	banner
	((rc == 0)) || log "the stack runs but is not ready: deploy/stack.sh status, var/log/, make stop"
	return "$rc"
}

cmd_stop() {
	setup_env
	local pid
	if pid=$(supervisord_pid); then
		log "stopping"
		ctl shutdown >/dev/null 2>&1 || kill -TERM "$pid"
		# Long enough for every program's stopwaitsecs.
		for _ in $(seq 600); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && die "supervisord ($pid) has not stopped"
		rm -f -- "$VAR/run/banner"
		log "stopped"
	else
		log "not running"
	fi
	after_stop
}

cmd_status() {
	setup_env
	if ! supervisord_pid >/dev/null; then
		if [[ -n $(our_pids) ]]; then
			echo "mtm stack: supervisord is not running, but processes of the stack are (deploy/stack.sh stop ends them)"
		else
			echo "mtm stack: not running"
		fi
		return 3
	fi
	ctl status || true
	echo "api: GET /api/ready -> $(http_code /api/ready)"
	local down
	if down=$(down_programs); then
		return 0
	fi
	echo "down: $(echo "$down" | tr '\n' ' ')"
	return 1
}

cmd_reset() {
	local yes=${MTM_RESET_YES:-0} answer=
	case "${1:-}" in
	--yes | -y) yes=1 ;;
	"") ;;
	*) die "usage: $0 reset [--yes]" ;;
	esac
	if [[ ! -e $VAR ]]; then
		log "nothing to reset"
		return 0
	fi
	if [[ $yes != 1 ]]; then
		printf 'Stop the stack and delete %s (database, queues, secrets, logs)? [y/N] ' "$VAR" >&2
		read -r answer || true
		[[ $answer == [yY] || $answer == [yY][eE][sS] ]] || die "reset: not confirmed; nothing deleted"
	fi
	cmd_stop
	rm -rf -- "$VAR"
	log "deleted $VAR"
}

main() {
	local verb=${1:-}
	[[ $# -gt 0 ]] && shift
	case "$verb" in
	run | start | stop | status)
		[[ $# -eq 0 ]] || die "usage: $0 $verb"
		"cmd_$verb"
		;;
	reset) cmd_reset "$@" ;;
	psql)
		setup_env
		exec psql "$MTM_PG_URL" "$@"
		;;
	rabbitmqctl)
		setup_env
		# Only against a running node: with no node (and so no epmd of ours),
		# the CLI would start a stray epmd on our port.
		if ! supervisord_pid >/dev/null || [[ $(ctl status rabbitmq 2>/dev/null | awk '{ print $2 }') != RUNNING ]]; then
			die "the stack's RabbitMQ is not running"
		fi
		rabbitmqctl_local "$@"
		;;
	*)
		sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
		exit 2
		;;
	esac
}

main "$@"
