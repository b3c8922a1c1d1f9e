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
  -DDEEPDIST_FUZZ=ON -DDEEPDIST_BUILD_TESTS=OFF -DDEEPDIST_BUILD_EXAMPLES=OFF -DDEEPDIST_PYTHON=OFF >/dev/null
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
# Dumps for corpus prepare (an odd first byte: the whole pipeline; even: the
# markup stripper alone), plain and in two bz2 streams.
dump='<mediawiki><siteinfo><namespaces><namespace key="0" /></namespaces></siteinfo><page><title>A</title><ns>0</ns><revision><text>{{Infobox|x={{y}}}} The [[cat|Cat]] sat &amp;nbsp; 1984.<ref>r</ref>\n{| class=t\n|a\n|}</text></revision></page><page><title>R</title><ns>0</ns><redirect title="A" /><revision><text>#REDIRECT [[A]]</text></revision></page></mediawiki>'
mkdir -p "$seeds/wiki_dump_fuzz"
printf '\x01%s' "$dump" >"$seeds/wiki_dump_fuzz/xml"
{ printf '\x03'; printf '%s' "${dump:0:150}" | bzip2 -c; printf '%s' "${dump:150}" | bzip2 -c; } \
  >"$seeds/wiki_dump_fuzz/bz2"
printf '\x00%s' "'''Bold''' [[File:x.png|thumb|a [[b]]]] {{a|{{b}}}} <!-- c --> [http://x y] == H ==" \
  >"$seeds/wiki_dump_fuzz/markup"

# Integers as printf escapes, little-endian: le BYTES VALUE.
le() {
  local i
  for ((i = 0; i < $1; i++)); do printf '\\x%02x' $((($2 >> (8 * i)) & 255)); done
}
# A checkpoint file (include/deepdist/checkpoint.h) of the sections given as
# NAME BYTES pairs (BYTES as printf escapes), closed by the CRC-32 of what
# precedes it: a gzip stream's trailer holds that CRC-32 (zlib's),
# little-endian, before the length.
checkpoint() {  # TARGET SEED [NAME BYTES]...
  local file=$seeds/$1/$2 body section
  body=$(mktemp) section=$(mktemp)
  mkdir -p "$seeds/$1"
  shift 2
  {
    printf "DDCKPT01$(le 4 $(($# / 2)))"
    while [[ $# -gt 0 ]]; do
      printf "$2" >"$section"
      printf "$(le 4 ${#1})%s$(le 8 "$(wc -c <"$section")")" "$1"
      cat "$section"
      shift 2
    done
  } >"$body"
  { cat "$body"; gzip -c <"$body" | tail -c 8 | head -c 4; } >"$file"
  rm -f "$body" "$section"
}
# A TrainState: 5 tasks started, progress 1234, task (epoch 1, partition 2)
# in flight at position "17", the model's state "lr 0.025".
train="$(le 8 5)$(le 8 1234)$(le 8 1)$(le 8 1)$(le 8 2)$(le 8 2)17$(le 8 8)lr 0.025"
# A 4 x 3 table (Checkpoint::PutTable): rows, dim, then the values.
one='\x00\x00\x80\x3f' half='\x00\x00\x00\x3f' minus2='\x00\x00\x00\xc0' zero='\x00\x00\x00\x00'
table="$(le 8 4)$(le 8 3)$one$half$minus2$zero$one$one$half$half$minus2$zero$zero$one"
write checkpoint_fuzz "$train" train-state
checkpoint checkpoint_fuzz sgd rule 'sgd 0 0' table/0 "$table" train "$train"
checkpoint checkpoint_fuzz adagrad rule 'adagrad 1 0' table/0 "$table" state/0 "$table" \
  train "$(le 8 0)$(le 8 0)$(le 8 0)$(le 8 0)" settings 'dim 3\nwindow 5\n' vocab 'the 3\nof 2\n'
checkpoint checkpoint_fuzz empty

# MPI store messages (src/store/mpi_store.cc), for store 0, from rank 0 to
# rank 1 of 2 (which owns the odd rows), ids as uint32; the fuzz target's
# tables are 10 x 3 and 7 x 20. hdr TYPE: a message's header.
hdr() { printf '\\x%02x\\x00%s' "$1" "$(le 2 0)"; }
three="$one$half$minus2" twenty="$(for i in 1 2 3 4 5; do printf '%s' "$one$half$minus2$zero"; done)"
int8='\xfa\x01\x7f\x81\x00\x10\xf0\x20\xe0\x40\xc0\x7f\x81\x02\xfe\x03\xfd\x04\xfc\x05\xfb'
int4='\xfa\x17\x7f\x19\x00\x26\x62\xf1\x1f\x33\x99'
m=mpi_messages_fuzz
write $m "$(hdr 1)$(le 8 7)$(le 4 1)$(le 4 0)$(le 4 2)$(le 4 1)$(le 4 3)" pull-request
write $m "$(hdr 2)$(le 8 7)\x00$three$three" pull-reply
write $m "$(hdr 3)$(le 8 8)\x00\x00\x00\x00$one$(le 4 4294967295)$(le 4 1)$(le 4 0)$(le 4 1)$(le 4 5)$three" \
  push-request
write $m "$(hdr 3)$(le 8 9)\x01\x00\x01\x00$half$(le 4 3)$(le 4 1)$(le 4 1)$(le 4 1)$(le 4 3)$int8" \
  push-request-int8
write $m "$(hdr 3)$(le 8 9)\x01\x00\x01\x00$half$(le 4 3)$(le 4 1)$(le 4 1)$(le 4 1)$(le 4 3)$int4" \
  push-request-int4
write $m "$(hdr 4)$(le 8 8)\x00" push-ack
write $m "$(hdr 4)$(le 8 8)\x05$(le 4 11)no table 9." push-ack-error
write $m "$(hdr 5)$(le 8 100000)" progress
write $m "$(hdr 6)$(le 4 0)$(le 8 0)$(le 4 2)$three$three" shard-chunk
write $m "$(hdr 7)$(le 8 10)$(le 4 0)\x00$(le 4 2)$(le 4 0)$(le 8 0)$(le 8 10)$(le 4 1)$(le 8 0)$(le 8 7)" \
  pull-changed-request
write $m "$(hdr 8)$(le 8 10)\x00$(le 4 1)$(le 4 1)$three$(le 4 1)$(le 4 3)$twenty" pull-changed-reply
write $m "$(hdr 8)$(le 8 11)\x00$(le 4 1)$(le 4 1)\xfe\x7f\x00\x81$(le 4 1)$(le 4 5)$int8" \
  pull-changed-reply-int8
write $m "$(hdr 9)$(le 8 12)$(le 4 0)" task-request
write $m "$(hdr 10)$(le 8 12)$(le 8 42)" task-reply
# The store's own handlers take the same messages after two bytes: the store
# (rank, wire and rule) and what it asked before (fuzz/mpi_store_fuzz.cc).
if [[ -d $seeds/mpi_store_fuzz ]]; then
  for f in "$seeds/$m"/*; do
    for prefix in '\x00\x00' '\x01\x00' '\x00\x01' '\x03\x02' '\x06\x03' '\x07\x04' '\x0e\x82'; do
      { printf "$prefix"; cat "$f"; } >"$seeds/mpi_store_fuzz/$(basename "$f")-${prefix//\\x/}"
    done
  done
fi

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
