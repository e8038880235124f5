#!/bin/sh
# supervisord event listener (see supervisord.conf): on PROCESS_STATE_FATAL,
# name the program on stderr and stop supervisord (SIGTERM to our parent),
# which stops the other programs and ends the container.
# Protocol: write READY, read one header line with len:N, read N bytes of
# payload, answer RESULT 2\nOK, repeat.
set -u
while :; do
    printf 'READY\n'
    IFS= read -r header || exit 0
    len=$(printf '%s\n' "$header" | sed -n 's/.*len:\([0-9][0-9]*\).*/\1/p')
    payload=$(head -c "${len:-0}")
    name=$(printf '%s\n' "$payload" | sed -n 's/.*processname:\([^ ]*\).*/\1/p')
    printf 'mtm: program %s could not be started (FATAL); stopping the container\n' "${name:-?}" >&2
    printf 'RESULT 2\nOK'
    kill -TERM "$PPID"
done
