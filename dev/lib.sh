# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source it
# Shared by dev/services.sh, dev/kafka.sh, dev/postgres.sh and .ci/run: where
# things live, the ports, and the small helpers every script needs. Sourced,
# never run; it defines variables and functions and does nothing else.
#
# Ports can be moved, e.g. to run a second checkout beside a running one:
# STREAMJOBS_KAFKA_PORT (controller on the next port), STREAMJOBS_PG_PORT.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_DIR="$ROOT/dev"
# Everything generated (jars, data, logs, pid files, configs).
STATE_DIR="$ROOT/.dev"

KAFKA_HOST=127.0.0.1
KAFKA_PORT="${STREAMJOBS_KAFKA_PORT:-9092}"
KAFKA_DEFAULT_PORT=9092

PG_HOST=127.0.0.1
PG_PORT="${STREAMJOBS_PG_PORT:-54329}"
PG_DEFAULT_PORT=54329
PG_USER=streamjobs
PG_PASSWORD=streamjobs
PG_DB=streamjobs
PG_URL="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"

# Put before die's message, such as "ci: " (set it before sourcing).
ERROR_PREFIX="${ERROR_PREFIX:-}"

say() { printf '%s\n' "$*"; }
die() { printf '%serror: %s\n' "$ERROR_PREFIX" "$*" >&2; exit 1; }

# Seconds since an $EPOCHREALTIME stamp, one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# The first port from $1 on (stepping by 2) where it and the next one are free on 127.0.0.1.
free_ports_from() {
  local port="$1"
  while port_open 127.0.0.1 "$port" || port_open 127.0.0.1 "$((port + 1))"; do
    port=$((port + 2))
  done
  printf '%s\n' "$port"
}

# URL with the password masked, for messages.
url_display() { printf '%s\n' "$1" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#'; }
