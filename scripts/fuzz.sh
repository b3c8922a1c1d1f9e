#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cc, clang, -DDEEPDIST_FUZZ=ON in
# build-fuzz/) and runs each for a number of executions, starting from a few
# valid inputs of its format; prints a markdown table of executions, seconds
# and crashes per target. A crash leaves its input under build-fuzz/crashes/
# and makes the script exit non-zero.
#
# Usage: scripts/fuzz.sh [--runs N] [--max-len BYTES] [TARGET...]
#   --runs     executions per target (default 1000000)
#   --max-len  the longest input tried (default 4096)
#   TARGET     vectors_fuzz, questions_fuzz, ... (default: every target)
# Inputs go through files under $FUZZ_TMP (default /dev/shm, a RAM disk).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs=1000000
max_len=4096
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --max-len) max_len=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

scripts/install-deps.sh --fuzz >&2
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDEEPDIST_FUZZ=ON -DDEEPDIST_BUILD_TESTS=OFF -DDEEPDIST_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in build-fuzz/fuzz/*_fuzz; do targets+=("$(basename "$f")"); done
fi

# Seeds: a few well-formed inputs per format, so the fuzzer starts inside it.
seeds=build-fuzz/seeds
rm -rf "$seeds" build-fuzz/crashes
mkdir -p "$seeds" build-fuzz/crashes
for t in "${targets[@]}"; do mkdir -p "$seeds/$t"; done
write() { mkdir -p "$seeds/$1"; printf "$2" >"$seeds/$1/$3"; }
write vectors_fuzz '2 3\nking 0.1 0.2 0.3\nqueen -1 0 1e-3\n' text
write vectors_fuzz '1 2\nab \x00\x00\x80\x3f\x00\x00\x00\x40\n' binary
write questions_fuzz ': capital-common-countries\nathens greece baghdad iraq\n: gram1\nbad worse good better\n' questions
write vocabulary_fuzz 'the 120\nof 60\nking 7\n' vocab
write vocabulary_fuzz '187\nthe 120\nof 60\nking 7\n' counts
write tabular_fuzz '1.5,2,3,-4e2,1' csv
write tabular_fuzz '+1 3:0.5 17:1 1000000:2.5' libsvm
write corpus_fuzz 'anarchism originated as a term\nof abuse  first used\n' text
mkdir -p "$seeds/corpus_fuzz"
printf 'anarchism originated as a term\nof abuse\n' | gzip -c >"$seeds/corpus_fuzz/gzip"

echo "| target | executions | seconds | crashes |"
echo "|---|---|---|---|"
failed=0
for t in "${targets[@]}"; do
  log=build-fuzz/$t.log
  work=$(mktemp -d "${FUZZ_TMP:-/dev/shm}/deepdist-fuzz.XXXXXX")
  cp -r "$seeds/$t/." "$work/" 2>/dev/null || true
  rc=0
  TMPDIR=$work build-fuzz/fuzz/$t -runs="$runs" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/$t- \
    "$work" >"$log" 2>&1 || rc=$?
  rm -rf "$work"
  done_runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  seconds=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  crashes=0
  if [[ $rc -ne 0 ]]; then
    crashes=1
    failed=1
    echo "fuzz.sh: $t: failed (exit $rc); see $log" >&2
  fi
  echo "| $t | ${done_runs:-0} | ${seconds:--} | $crashes |"
done
exit $failed
