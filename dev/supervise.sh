#!/usr/bin/env bash
# Run several long-running commands in the foreground as one unit, for `make run`:
#
#   dev/supervise.sh 'streamjobs consume all' 'streamjobs scheduler'
#
# Each argument is one command (split on spaces; no shell syntax). Ctrl-C or
# SIGTERM stops them all: each gets SIGTERM, which every streamjobs process
# treats like SIGINT (stop fetching, drain, commit, exit 0), and this script
# waits for all of them. When one exits on its own, the others are stopped too,
# so a crash never leaves half the system running unnoticed. The exit status is
# the first failure of a command (death by SIGINT/SIGTERM is no failure), else 0.
set -uo pipefail

declare -A names=() # pid -> command, for messages
stopping=0

say() { printf 'supervise: %s\n' "$*" >&2; }

# Idempotent: a terminal's Ctrl-C reaches this script and the commands alike,
# and a second signal must not interrupt the drain that the first one started.
stop_all() {
  ((stopping)) && return 0
  stopping=1
  ((${#names[@]} > 0)) || return 0
  say "stopping ${#names[@]} process(es)"
  kill -TERM "${!names[@]}" 2>/dev/null || true
}

start_all() {
  local cmd words
  for cmd in "$@"; do
    read -ra words <<<"$cmd"
    "${words[@]}" &
    names[$!]="$cmd"
  done
}

# `wait -n -p` (bash 5.1+) names the pid that ended; it comes back without one
# when a trapped signal interrupted it, and then we simply wait again.
wait_all() {
  local status=0 rc pid
  while ((${#names[@]} > 0)); do
    pid=""
    wait -n -p pid
    rc=$?
    [[ -n "${pid:-}" ]] || continue
    ((stopping)) || say "'${names[$pid]}' exited with status $rc"
    unset "names[$pid]"
    # 130/143: killed by SIGINT/SIGTERM, i.e. stopped as asked (a process that
    # was already exiting may die of our SIGTERM instead of finishing).
    if ((rc != 0 && rc != 130 && rc != 143 && status == 0)); then status=$rc; fi
    stop_all
  done
  return "$status"
}

main() {
  (($# > 0)) || { say "usage: $0 'command args' ..."; exit 2; }
  trap stop_all INT TERM
  start_all "$@"
  wait_all
}

main "$@"
