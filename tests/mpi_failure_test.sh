#!/usr/bin/env bash
# Runs an MPI job in which one rank fails and checks that the whole job ends,
# non-zero, within a time limit (never hangs).
#   mpi_failure_test.sh abort|kill SECONDS MPIEXEC ARGS... PROGRAM
# "abort": stderr must also hold the failing rank's one "deepdist: " line.
set -uo pipefail
mode=$1
limit=$2
shift 2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
start=$(date +%s)
timeout --kill-after=10 "$limit" "$@" "$mode" 2>"$err" >/dev/null
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "mpi_failure_test: mode $mode, exit $rc after ${elapsed}s"
if [[ $rc -eq 124 || $rc -eq 137 && $elapsed -ge $limit ]]; then
  echo "FAIL: the job did not end within ${limit}s"; cat "$err"; exit 1
fi
if [[ $rc -eq 0 ]]; then
  echo "FAIL: the job exited 0"; cat "$err"; exit 1
fi
if [[ $mode == abort ]]; then
  lines=$(grep -c '^deepdist: ' "$err")
  if [[ $lines -ne 1 ]] || ! grep -q '^deepdist: rank 1: injected failure$' "$err"; then
    echo "FAIL: stderr should hold one 'deepdist: ' line, it holds $lines:"; cat "$err"; exit 1
  fi
fi
echo "PASS"
