#!/bin/sh
# ctest jacnet_fashion_threads: the smoke grid with 1 and with 2 OpenMP threads writes bitwise
# the same tables.   usage: threads.sh JACNET_FASHION WORK_DIR
set -u
EXE=$1
DIR=$2
. "$(dirname "$0")/common.sh"
rm -rf "$DIR" && mkdir -p "$DIR"
run_smoke "$DIR/t1" --threads 1
run_smoke "$DIR/t2" --threads 2
same_tables "$DIR/t1" "$DIR/t2" || exit 1
echo "OK: 1 and 2 threads give the same tables"
