#!/usr/bin/env bash
# Local PostgreSQL for streamjobs development and tests: $DATABASE_URL if it
# answers, else a private cluster run with the system's initdb/pg_ctl on
# 127.0.0.1:$STREAMJOBS_PG_PORT (default 54329; streamjobs/streamjobs/streamjobs).
#
# Usage: dev/postgres.sh up|down|status|clean   (dev/services.sh runs both services)
#
# The cluster lives in .dev/postgres. One exception: run as root in a repo that
# the 'postgres' user cannot enter (a clone under /root, mode 700), it lives in
# /var/tmp/streamjobs-pg-<hash of the repo path> instead, since the server must
# run as 'postgres'. `clean` stops it and deletes that directory. `status`
# exits 0 when it runs (or DATABASE_URL answers), 3 otherwise.
set -euo pipefail

# shellcheck source=dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# PG_DIR, PG_DATA and PG_LOG are set by pg_locate.

# DATABASE_URL as libpq understands it (SQLAlchemy's "+driver" suffix removed).
external_pg_url() {
  [[ -n "${DATABASE_URL:-}" ]] || return 1
  printf '%s\n' "$DATABASE_URL" | sed -E 's#^postgres(ql)?\+[a-z0-9_]+://#postgresql://#'
}

external_pg_answers() {
  local url
  url="$(external_pg_url)" || return 1
  command -v pg_isready >/dev/null || return 1
  pg_isready -q -t 3 -d "$url"
}

# Where the private cluster lives: .dev/postgres, unless we run as root and the
# 'postgres' user (who must own the data dir and run the server) cannot reach
# it; then a directory under /var/tmp named after the repo path, so that up,
# down and status of one checkout always agree and checkouts never share one.
pg_locate() {
  PG_DIR="$STATE_DIR/postgres"
  if [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1 && ! as_pg test -x "$ROOT"; then
    PG_DIR="/var/tmp/streamjobs-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
  fi
  PG_DATA="$PG_DIR/data"
  PG_LOG="$PG_DIR/postgres.log"
}

# Server binaries: those of the major version that made an existing data dir
# (a data dir only runs under its own major), else the newest installed.
pg_bindir() {
  local dir want=""
  [[ -f "$PG_DATA/PG_VERSION" ]] && want="$(<"$PG_DATA/PG_VERSION")"
  if [[ -n "$want" && -x "/usr/lib/postgresql/$want/bin/pg_ctl" ]]; then
    dir="/usr/lib/postgresql/$want/bin"
  else
    dir="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1 || true)"
  fi
  if [[ -z "$dir" ]] && command -v pg_ctl >/dev/null; then
    dir="$(dirname "$(command -v pg_ctl)")"
  fi
  [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || return 1
  printf '%s\n' "$dir"
}

pg_check_version() {
  local want have
  [[ -f "$PG_DATA/PG_VERSION" ]] || return 0
  want="$(<"$PG_DATA/PG_VERSION")"
  have="$("$PG_BIN/pg_ctl" --version | grep -oE '[0-9]+' | head -n1)"
  [[ "$want" == "$have" ]] \
    || die "postgres: $PG_DATA was made by PostgreSQL $want but only $have is installed; remove $PG_DIR to start afresh"
}

pg_install_server() {
  [[ $EUID -eq 0 ]] || die "postgres: initdb/pg_ctl not found; install Debian's 'postgresql' package (or set DATABASE_URL)"
  say "postgres: installing Debian's postgresql package (once)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# initdb and postgres refuse to run as root: as root, run them as the
# 'postgres' system user, which then owns $PG_DIR.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    # From /: the caller's directory may be one 'postgres' cannot enter, and
    # initdb and pg_ctl complain about that (every path here is absolute).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_ctl_() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }

# Live postmaster of our cluster, from the first line of postmaster.pid. Not
# `pg_ctl status`: it takes a zombie or a reused pid for a live server.
pg_private_running() {
  local pid state
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
  pid="$(head -n1 "$PG_DATA/postmaster.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state="$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q postgres
}

# A postmaster.pid left by a crash names a dead (or reused) pid; the server
# would refuse to start while that pid exists, so drop the file.
pg_remove_stale_pidfile() {
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 0
  say "postgres: removing stale postmaster.pid (server was not shut down cleanly)"
  rm -f "$PG_DATA/postmaster.pid"
}

pg_prepare_dir() {
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "postgres: no 'postgres' system user to run the server as (install Debian's postgresql package)"
    # /var/tmp is world-writable: never adopt a directory someone else made.
    if [[ "$PG_DIR" == /var/tmp/* && -e "$PG_DIR" ]]; then
      [[ -d "$PG_DIR" && ! -L "$PG_DIR" && "$(stat -c %U "$PG_DIR")" =~ ^(root|postgres)$ ]] \
        || die "postgres: $PG_DIR exists but is not a directory owned by root or postgres; remove it"
    fi
    [[ "$PG_DIR" == /var/tmp/* ]] && say "postgres: user 'postgres' cannot enter $ROOT; keeping the cluster in $PG_DIR"
    mkdir -p "$PG_DIR"
    chmod 700 "$PG_DIR"
    chown postgres:postgres "$PG_DIR"
    as_pg test -w "$PG_DIR" \
      || die "postgres: user 'postgres' cannot write $PG_DIR (a parent directory is not searchable by it); move the repo or set DATABASE_URL"
  else
    mkdir -p "$PG_DIR"
  fi
}

pg_initdb_once() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  say "postgres: creating a cluster in $PG_DATA (once)"
  # initdb reads the superuser's password from a file, as the postgres user.
  local pwfile="$PG_DIR/.pwfile"
  (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$pwfile")
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$pwfile"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
    -A scram-sha-256 -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; cat "$PG_DIR/initdb.log" >&2; die "postgres: initdb failed"; }
  rm -f "$pwfile"
  # TCP on loopback only (no Unix socket, so no clash with a system cluster and
  # no socket-path length limit). Durability is traded for speed: a dev/test
  # cluster is thrown away, never recovered.
  cat >>"$PG_DATA/postgresql.conf" <<EOF

# ---- dev/services.sh
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

pg_create_db_once() {
  local exists
  exists="$(PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
    -Atqc "select 1 from pg_database where datname = '$PG_DB'")"
  [[ "$exists" == 1 ]] && return 0
  PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
    -qc "create database $PG_DB owner $PG_USER" >/dev/null
}

pg_up() {
  pg_locate
  if external_pg_answers; then
    say "postgres: using DATABASE_URL ($(url_display "$(external_pg_url)")), which answers"
    return 0
  fi
  [[ -n "${DATABASE_URL:-}" ]] && say "postgres: DATABASE_URL does not answer; using the private cluster"
  if pg_private_running; then
    say "postgres: already running on $PG_HOST:$PG_PORT ($PG_URL)"
    return 0
  fi
  local t0="$EPOCHREALTIME"
  PG_BIN="$(pg_bindir)" || {
    pg_install_server
    PG_BIN="$(pg_bindir)" || die "postgres: no initdb/pg_ctl even after installing"
    pg_locate # the package brings the 'postgres' user, which may change the answer
  }
  command -v psql >/dev/null || die "postgres: psql not found (install Debian's postgresql-client package)"
  port_open "$PG_HOST" "$PG_PORT" \
    && die "postgres: $PG_HOST:$PG_PORT is taken by another process (not the cluster in $PG_DATA)"
  pg_check_version
  pg_prepare_dir
  pg_initdb_once
  pg_remove_stale_pidfile
  pg_ctl_ start -w -t 60 -l "$PG_LOG" >/dev/null \
    || { tail -n 30 "$PG_LOG" >&2; die "postgres: pg_ctl start failed (log $PG_LOG)"; }
  pg_create_db_once
  say "postgres: started on $PG_HOST:$PG_PORT in $(elapsed "$t0")s ($PG_URL)"
}

pg_down() {
  pg_locate
  if ! pg_private_running; then
    say "postgres: private cluster not running"
    return 0
  fi
  PG_BIN="$(pg_bindir)" || die "postgres: pg_ctl not found, cannot stop the cluster in $PG_DATA"
  pg_ctl_ stop -m fast -w >/dev/null
  say "postgres: stopped"
}

pg_status() {
  pg_locate
  if pg_private_running; then
    say "postgres: running on $PG_HOST:$PG_PORT ($PG_URL)"
  elif external_pg_answers; then
    say "postgres: running at DATABASE_URL ($(url_display "$(external_pg_url)"))"
  else
    say "postgres: stopped ($PG_HOST:$PG_PORT)"
    return 1
  fi
}

pg_clean() {
  pg_down
  pg_locate
  rm -rf "$PG_DIR"
  say "removed $PG_DIR"
}

case "${1:-}" in
  up) pg_up ;;
  down) pg_down ;;
  status) pg_status || exit 3 ;;
  clean) pg_clean ;;
  *)
    say "usage: $0 up|down|status|clean" >&2
    exit 2
    ;;
esac
