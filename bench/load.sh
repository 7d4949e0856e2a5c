#!/usr/bin/env bash
# One competing CPU-bound process for `bench/run_all.sh --load`: a shell busy loop that keeps one
# core busy and stops by itself after SECONDS seconds (default 600), or earlier when killed.
# usage: bench/load.sh [SECONDS]
set -u
limit="${1:-600}"
[[ "$limit" =~ ^[0-9]+$ ]] || { echo "load.sh: SECONDS must be a whole number, got '$limit'" >&2; exit 2; }
end=$((SECONDS + limit))
while ((SECONDS < end)); do :; done
