#!/usr/bin/env bash
# Local services for streamjobs development and tests, without Docker: Kafka
# (dev/kafka.sh) and PostgreSQL (dev/postgres.sh), both under .dev/ at the
# repo root; dev/lib.sh holds what they share (ports, paths, helpers).
#
# Usage: dev/services.sh up|down|status|clean
#
#   up      start Kafka and PostgreSQL (a no-op for a service that runs)
#   down    stop them
#   status  one line per service; exit 0 if both run, 3 otherwise
#   clean   stop them and delete their data, logs and jars
#
# Ports can be moved, e.g. to run a second checkout beside a running one:
# STREAMJOBS_KAFKA_PORT (controller on the next port), STREAMJOBS_PG_PORT.
# Export KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL to match, as `up` then says.
set -euo pipefail

# shellcheck source=dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The settings' defaults name the default ports; moved ports need exports.
hint_moved_ports() {
  [[ "$KAFKA_PORT" == "$KAFKA_DEFAULT_PORT" && "$PG_PORT" == "$PG_DEFAULT_PORT" ]] && return 0
  say "ports moved: export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_HOST:$KAFKA_PORT DATABASE_URL=$PG_URL"
}

case "${1:-}" in
  up)
    "$DEV_DIR/kafka.sh" up
    "$DEV_DIR/postgres.sh" up
    hint_moved_ports
    ;;
  down)
    "$DEV_DIR/kafka.sh" down
    "$DEV_DIR/postgres.sh" down
    ;;
  clean)
    "$DEV_DIR/kafka.sh" clean
    "$DEV_DIR/postgres.sh" clean
    rm -rf "$STATE_DIR"
    ;;
  status)
    rc=0
    "$DEV_DIR/kafka.sh" status || rc=3
    "$DEV_DIR/postgres.sh" status || rc=3
    exit "$rc"
    ;;
  -h | --help | help) sed -n '2,15s/^# \{0,1\}//p' "$0" ;;
  *)
    sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
