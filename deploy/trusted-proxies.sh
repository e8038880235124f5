#!/bin/sh
# Prints lighttpd's extforward.forwarder for MTM_TRUSTED_PROXIES; lighttpd.conf
# runs it with include_shell when lighttpd starts (lighttpd's configuration
# cannot split an environment string into a list itself).
#
# MTM_TRUSTED_PROXIES: comma-separated IPv4/IPv6 addresses or CIDR blocks of
# the reverse proxies in front of lighttpd. From those peers, lighttpd takes
# the client's address from X-Forwarded-For (mod_extforward) and hands it to
# mtm-api as REMOTE_ADDR; from anyone else the header is ignored. Unset or
# empty: trust nobody. Read from the environment, else from the file named by
# MTM_CONFIG, as the binaries do.
#
# Only address characters are let through, so a value can never add other
# lighttpd settings; mtm-api validates the same variable strictly at start.
set -euf # -f: no globbing of the entries

list=${MTM_TRUSTED_PROXIES:-}
if [ -z "$list" ] && [ -n "${MTM_CONFIG:-}" ] && [ -r "$MTM_CONFIG" ]; then
	list=$(sed -n 's/^[[:space:]]*\(export[[:space:]][[:space:]]*\)\{0,1\}MTM_TRUSTED_PROXIES[[:space:]]*=[[:space:]]*//p' "$MTM_CONFIG" |
		tail -n 1 | tr -d "\"' \t\r")
fi

out="extforward.forwarder = ("
for entry in $(printf '%s' "$list" | tr ',' ' '); do
	case $entry in
	*[!0-9A-Fa-f:./]* | */*/* | [./]*)
		echo "MTM_TRUSTED_PROXIES: not an IP address or CIDR block: $entry" >&2
		exit 2
		;;
	esac
	out="$out \"$entry\" => \"trust\","
done
echo "$out )"
