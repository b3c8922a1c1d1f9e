#!/usr/bin/env bash
# Corpora larger than memory: counting a vocabulary of millions of distinct
# words within a bound (--vocab-entries, word2vec.c's ReduceVocab), and
# training that streams the input (memory set by the model, not the corpus).
#
# Usage:
#   bench/large_corpus.sh [--deepdist PATH] [--corpus PATH] [--copies N] [--rare N]
#                         [--entries "1000000 250000"] [--threads T] [--dim D]
#                         [--dir DIR] [--keep]
#
# Generates a corpus of N copies (default 5) of the shared corpus (default
# data/corpus.txt, else ../shared/data/enwiki-clean-1e8.txt.gz), one line
# per copy. The first copy is as it is; in the others every word seen fewer
# than --rare times (default 50) in the shared corpus gets a suffix of
# letters ("q" and three of a-z, drawn by a seeded LCG), so the rare words
# grow into millions of distinct ones, as a web-scale corpus's names, typos
# and URLs do, while the words that make the model (min-count 5) stay those
# of the shared corpus. The corpus goes to DIR (default a fresh folder under
# ${TMPDIR:-/tmp}; it takes about N x 105 MB) and is removed at the end
# unless --keep.
#
# Then, each run `deepdist word2vec train --epochs 1 --threads T --dim D`
# (default 2 threads, dim 100) under /usr/bin/time -v:
#   (a) counting and training: the large corpus without a bound and with
#       each --vocab-entries of --entries: peak RSS, the distinct words
#       counted and the most held at once (the --json summary's
#       vocab_counted and vocab_peak_entries), the prune threshold, how many
#       of the vocabulary's words have the unbounded run's count, time;
#   (a') counting alone: the same with --max-vocab 1 --dim 1, so that the
#       peak is counting's, not the model's: the bytes per word held;
#   (b) streaming: the shared corpus and the large one trained with the same
#       vocabulary (--read-vocab, the shared corpus's as the first run saved
#       it), so the model is the same size: peak RSS about equal, not in
#       proportion to the corpus.
# Output: a markdown table on stdout, and the bytes per word held that the
# counting-alone runs imply. Timings are reported, never judged.
# --reuse: keep DIR's large.txt when it is there (a run with --keep made it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "large_corpus.sh: $*" >&2
  exit 1
}

deepdist="$root/build/deepdist"
corpus=
copies=5
rare=50
entries="1000000 250000"
threads=2
dim=100
dir=
keep=0
reuse=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deepdist) deepdist=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --rare) rare=$2; shift 2 ;;
    --entries) entries=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --dim) dim=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --reuse) reuse=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ -x "$deepdist" ]] || die "$deepdist: not built (--deepdist PATH)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time: missing (apt-get install time)"
[[ "$copies" =~ ^[0-9]+$ && "$copies" -ge 2 ]] || die "--copies: at least 2"

if [[ -z "$dir" ]]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/deepdist-large-corpus.XXXXXX")
else
  mkdir -p "$dir"
fi
cleanup() {
  if [[ "$keep" == 0 ]]; then rm -rf "$dir"; else echo "kept: $dir" >&2; fi
}
trap cleanup EXIT

# The shared corpus, unpacked into DIR when only the .gz is at hand.
if [[ -z "$corpus" ]]; then
  if [[ -f "$root/data/corpus.txt" ]]; then
    corpus="$root/data/corpus.txt"
  elif [[ -f "$root/../shared/data/enwiki-clean-1e8.txt.gz" ]]; then
    zcat "$root/../shared/data/enwiki-clean-1e8.txt.gz" >"$dir/shared.txt"
    corpus="$dir/shared.txt"
  else
    die "no corpus: give --corpus PATH or run scripts/get-data.sh"
  fi
fi
[[ -f "$corpus" ]] || die "$corpus: not found"

large="$dir/large.txt"
if [[ "$reuse" == 1 && -s "$large" ]]; then
  echo "reusing $large" >&2
else
  need=$(($(stat -c %s "$corpus") * (copies + 1) / 1024))
  avail=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  [[ "$avail" -gt "$need" ]] || die "$dir: $((avail / 1024)) MiB free, about $((need / 1024)) MiB needed"

  echo "generating $copies copies of $corpus into $large ..." >&2
  start=$(date +%s)
  # Words separated by single blanks (the shared corpus's form): one record
  # each. The rare words first, then the copies.
  awk -v RS=' ' -v rare="$rare" '{ c[$0]++ } END { for (w in c) if (c[w] < rare) printf "%s ", w }' \
    "$corpus" >"$dir/rare.txt"
  args=()
  for ((i = 0; i < copies; i++)); do args+=("$corpus"); done
  awk -v RS=' ' '
    BEGIN { split("abcdefghijklmnopqrstuvwxyz", L, ""); seed = 12345 }
    FILENAME == ARGV[1] { is_rare[$0] = 1; next }
    FNR == 1 { if (++copy > 1) printf "\n" }
    {
      w = $0
      if (copy > 1 && (w in is_rare)) {
        seed = (seed * 16807) % 2147483647  # Park-Miller: exact in doubles.
        s = seed % 17576
        w = w "q" L[int(s / 676) + 1] L[int(s / 26) % 26 + 1] L[s % 26 + 1]
      }
      if (FNR > 1) printf " "
      printf "%s", w
    }
    END { printf "\n" }' "$dir/rare.txt" "${args[@]}" >"$large"
  echo "generated $(stat -c %s "$large") bytes in $(($(date +%s) - start)) s" >&2
fi

# run LABEL INPUT [FLAGS...]: one training run under /usr/bin/time -v, its
# vocabulary saved to $dir/vocab.txt; appends a row to $dir/rows.tsv, with
# the vocabulary compared to $dir/exact.vocab when that exists.
run() {
  local label=$1 input=$2
  shift 2
  echo "run: $label $* ..." >&2
  local dim_flag=(--dim "$dim")  # Unless the run gives its own.
  [[ " $* " == *" --dim "* ]] && dim_flag=()
  /usr/bin/time -v -o "$dir/time.txt" "$deepdist" word2vec train --input "$input" \
    --output "$dir/vectors.bin" --save-vocab "$dir/vocab.txt" --epochs 1 --threads "$threads" \
    --quiet --json "${dim_flag[@]}" "$@" >"$dir/out.json" 2>"$dir/err.txt" || {
    cat "$dir/err.txt" >&2
    die "$label: deepdist failed"
  }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$dir/time.txt")
  python3 - "$label" "$rss" "$wall" "$dir" "$*" >>"$dir/rows.tsv" <<'EOF'
import json, os, sys
label, rss, wall, dir, flags = sys.argv[1:6]
j = json.loads(open(f"{dir}/out.json").read().strip().splitlines()[-1])
get = lambda k: j.get(k, "-")
same = "-"
if os.path.exists(f"{dir}/exact.vocab") and "vocab_counted" in j and j["vocab_size"] > 1:
    exact = dict(line.split() for line in open(f"{dir}/exact.vocab"))
    mine = dict(line.split() for line in open(f"{dir}/vocab.txt"))
    same = f"{sum(1 for w, c in mine.items() if exact.get(w) == c):,}"
print("\t".join(str(x) for x in [
    label, flags.replace(dir + "/", "") or "-", j["words"], get("vocab_counted"),
    get("vocab_peak_entries"), get("vocab_prune_threshold"), j["vocab_size"], same, int(rss),
    wall, "%.1f" % (j["seconds"] - j["train_seconds"]), "%.1f" % j["train_seconds"]]))
EOF
}

: >"$dir/rows.tsv"
rm -f "$dir/exact.vocab"
run "shared" "$corpus"
cp "$dir/vocab.txt" "$dir/shared.vocab"
run "large" "$large"
cp "$dir/vocab.txt" "$dir/exact.vocab"
for n in $entries; do run "large" "$large" --vocab-entries "$n"; done
run "large, counting alone" "$large" --max-vocab 1 --dim 1
for n in $entries; do
  run "large, counting alone" "$large" --max-vocab 1 --dim 1 --vocab-entries "$n"
done
run "shared, its vocab" "$corpus" --read-vocab "$dir/shared.vocab" --min-count 1
run "large, shared vocab" "$large" --read-vocab "$dir/shared.vocab" --min-count 1

echo
echo "deepdist word2vec train --epochs 1 --threads $threads --dim $dim; $(nproc) cores," \
  "$(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "large corpus: $copies copies, $(stat -c %s "$large") bytes"
echo
python3 - "$dir/rows.tsv" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
head = ["corpus", "flags", "words", "distinct counted", "most held", "prune r", "vocab",
        "exact counts", "peak RSS MiB", "wall", "count s", "train s"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
num = lambda s: f"{int(s):,}" if s.isdigit() else s
for r in rows:
    print("| " + " | ".join([r[0], f"`{r[1]}`" if r[1] != "-" else "-"] +
                            [num(x) for x in r[2:7]] + [r[7], f"{int(r[8]) / 1024:,.0f}"] +
                            r[9:]) + " |")
# Bytes per word held: the counting-alone runs (the same tiny model)
# against each other, by the most words held at once.
alone = sorted((r for r in rows if "alone" in r[0]), key=lambda r: -int(r[4]))
bound = lambda r: r[1].partition("--vocab-entries ")[2] or "no bound"
print()
for r in alone:
    print(f"- counting alone, {bound(r)}: {int(r[8]) / 1024:.0f} MiB peak RSS, "
          f"{int(r[8]) * 1024 / int(r[4]):.0f} bytes per word held")
for a, b in zip(alone, alone[1:]):
    d = int(a[4]) - int(b[4])
    if d > 0:
        print(f"- counting alone, {bound(a)} vs {bound(b)}: "
              f"{(int(a[8]) - int(b[8])) * 1024 / d:.0f} bytes per word held more")
EOF
