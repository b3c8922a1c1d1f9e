#!/usr/bin/env bash
# The distributed benchmark: word2vec skip-gram embedded with 2 threads, and under
# mpirun with 2 ranks x 1 thread and 4 ranks x 1 thread (--oversubscribe), in one
# invocation, at 1 and 5 epochs; optionally the embedded run of another deepdist
# binary (the previous main's) beside it, for the "no speed lost" check.
#
# Usage:
#   bench/distributed.sh [--epochs "1 5"] [--runs R] [--corpus PATH] [--questions PATH]
#                        [--deepdist PATH] [--baseline PATH] [--configs "e2 m2 m4"]
#                        [--args "EXTRA TRAIN FLAGS"]
#
# Defaults: epochs 1 and 5, 1 run, data/corpus.txt, data/questions-words.txt,
# build/deepdist, no baseline, all three configurations. Settings: the standard ones
# (dim 100, window 5, negative 5, sample 1e-4, min-count 5, alpha 0.025), every other
# flag at its default (the distributed runs' --push-every, --fetch-every, --hot-rows,
# --hot-every and --wire too).
#   e2  deepdist word2vec train --threads 2          (embedded)
#   m2  mpirun -np 2 deepdist word2vec train --threads 1
#   m4  mpirun -np 4 --oversubscribe deepdist word2vec train --threads 1
#   b2  the --baseline binary, embedded, --threads 2 (1-epoch runs only)
# The configurations of one epoch count and run are interleaved (b2, e2, m2, m4).
#
# What is measured, per run:
#   words/s         the trainer's --json words_per_second (corpus words over all epochs
#                   per second of wall time of the whole run, rank 0's clock);
#   bytes/word      --json bytes_per_word (payload bytes handed to MPI by all ranks);
#   peak MiB/rank   the largest maximum resident set size of any rank (/usr/bin/time);
#   analogy         deepdist's analogy accuracy (3CosAdd, 30,000 most frequent words);
#   family          the analogy questions of its family section answered right (where
#                   king : queen is), of those counted;
#   queen           queen's rank among the top 10 answers to king - man + woman (- if not):
#                   at the edge of the top 3 on the shared corpus, it moves with the seed;
#   seed B/word     the bytes DeepDist's whole-model scheme would have moved in the same
#                   run: each partition task fetches the whole model (both tables) and
#                   pushes a whole-model update, with as many partitions per epoch as the
#                   run had (ranks x threads), and with partitions as small as the run's
#                   --fetch-every interval (so the model is as fresh as ours).
# Output: a markdown table on stdout (also saved under data/bench/). Timings are reported,
# never judged.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "distributed.sh: $*" >&2
  exit 1
}

epochs_list="1 5"
runs=1
corpus=
questions=
deepdist="$root/build/deepdist"
baseline=
configs="e2 m2 m4"
extra=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) epochs_list=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --args) extra=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [[ -z "$corpus" || -z "$questions" ]]; then
  "$root/scripts/get-data.sh" >&2
  corpus=${corpus:-$root/data/corpus.txt}
  questions=${questions:-$root/data/questions-words.txt}
fi
[[ -x "$deepdist" ]] || die "$deepdist: not built"
[[ -z "$baseline" || -x "$baseline" ]] || die "$baseline: not executable"
command -v mpirun >/dev/null || die "mpirun: not found (scripts/install-deps.sh)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

work=$(mktemp -d /tmp/deepdist-distributed.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$root/data/bench"
stamp=$(date +%Y-%m-%d-%H%M)
report="$root/data/bench/distributed-$stamp.md"
fetch_every=$(( 1 << 19 ))  # The --fetch-every default, for the seed's comparison.
readonly work report

# One run: prints "config epochs run wps bpw peak_mib acc family queen vocab words parts".
run_one() {
  local config=$1 epochs=$2 run=$3
  local bin=$deepdist ranks=1 threads=2 launcher=()
  case "$config" in
    e2) ;;
    b2) bin=$baseline ;;
    m2) ranks=2; threads=1; launcher=(mpirun -np 2 --oversubscribe) ;;
    m4) ranks=4; threads=1; launcher=(mpirun -np 4 --oversubscribe) ;;
    *) die "unknown configuration $config" ;;
  esac
  local out="$work/$config-$epochs-$run.bin" mem="$work/mem-$config-$epochs-$run"
  rm -f "$mem".*
  # Each rank's peak memory, measured around the rank itself.
  local json
  # shellcheck disable=SC2086
  json=$("${launcher[@]}" sh -c 'exec /usr/bin/time -f "%M" -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"' \
    "$mem" "$bin" word2vec train --input "$corpus" --output "$out" --epochs "$epochs" \
    --threads "$threads" --dim 100 --window 5 --negative 5 --sample 1e-4 --min-count 5 \
    --alpha 0.025 --quiet --json $extra 2>"$work/err" | tail -n 1) ||
    { cat "$work/err" >&2; die "$config: training failed"; }
  local peak_kib=0 f k
  for f in "$mem".*; do
    k=$(tail -n 1 "$f")
    (( k > peak_kib )) && peak_kib=$k
  done
  local acc queen
  acc=$("$deepdist" word2vec analogy --vectors "$out" --questions "$questions" --json |
    tail -n 1 | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
family = [s for s in j["sections"] if s["section"] == "family"]
print("%.2f" % (100 * j["accuracy"]),
      "%d/%d" % (family[0]["correct"], family[0]["total"]) if family else "-")')
  queen=$("$deepdist" word2vec query --vectors "$out" --positive king,woman --negative man \
    --topn 10 --json | tail -n 1 | /usr/bin/python3 -c '
import json, sys
words = [r["word"] for r in json.load(sys.stdin)["results"]]
print(words.index("queen") + 1 if "queen" in words else "-")')
  echo "$json" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sys.argv[1], sys.argv[2], sys.argv[3], "%.0f" % d["words_per_second"],
      "%.1f" % d.get("bytes_per_word", 0.0), "%.0f" % (int(sys.argv[4]) / 1024.0),
      sys.argv[5], sys.argv[6], d["vocab_size"], d["words"], int(sys.argv[7]) * int(sys.argv[8]))
' "$config" "$epochs" "$run" "$peak_kib" "$acc" "$queen" "$ranks" "$threads"
  rm -f "$out"
}

rows="$work/rows"
: >"$rows"
for epochs in $epochs_list; do
  for run in $(seq 1 "$runs"); do
    order=$configs
    [[ -n "$baseline" && "$epochs" == 1 ]] && order="b2 $order"
    for config in $order; do
      echo "distributed.sh: $config, $epochs epoch(s), run $run" >&2
      run_one "$config" "$epochs" "$run" >>"$rows"
    done
  done
done

{
  echo "# deepdist distributed benchmark, $(date +%Y-%m-%d)"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(mpirun --version | head -n 1)."
  echo "Corpus: $corpus ($(wc -c <"$corpus") bytes). Extra flags: ${extra:-none}."
  echo
  /usr/bin/python3 - "$rows" "$fetch_every" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
fetch_every = int(sys.argv[2])
names = {"b2": "baseline embedded, 2 threads", "e2": "embedded, 2 threads",
         "m2": "mpirun 2 ranks x 1 thread", "m4": "mpirun 4 ranks x 1 thread"}
print("| run | epochs | words/s | bytes/word | peak MiB/rank | analogy % | family | queen | seed B/word (same partitions) | seed B/word (partitions of --fetch-every words) |")
print("|---|---|---|---|---|---|---|---|---|---|")
groups = {}
for config, epochs, run, wps, bpw, peak, acc, family, queen, vocab, words, parts in rows:
    model_bytes = 2 * int(vocab) * 100 * 4  # Both tables, float32.
    epochs_i = int(epochs)
    per_epoch = int(words) / epochs_i
    same = 2 * model_bytes * int(parts) * epochs_i / int(words)
    small = 2 * model_bytes * (per_epoch / fetch_every) * epochs_i / int(words)
    seed_same = "%.1f" % same if config[0] == "m" else "-"
    seed_small = "%.1f" % small if config[0] == "m" else "-"
    print(f"| {names[config]} #{run} | {epochs} | {float(wps):,.0f} | {bpw} | {peak} | {acc} | {family} | {queen} | {seed_same} | {seed_small} |")
    groups.setdefault((epochs, config), []).append((float(wps), float(acc)))
print()
print("Medians, and ratios to the embedded run of the same epochs:")
print()
print("| run | epochs | words/s | analogy % | words/s vs embedded | analogy vs embedded (points) |")
print("|---|---|---|---|---|---|")
for (epochs, config), vals in sorted(groups.items()):
    wps = statistics.median(v[0] for v in vals)
    acc = statistics.median(v[1] for v in vals)
    base = groups.get((epochs, "e2"))
    if base:
        bw = statistics.median(v[0] for v in base)
        ba = statistics.median(v[1] for v in base)
        ratio, diff = "%.2f" % (wps / bw), "%+.2f" % (acc - ba)
    else:
        ratio, diff = "-", "-"
    print(f"| {names[config]} | {epochs} | {wps:,.0f} | {acc:.2f} | {ratio} | {diff} |")
EOF
} | tee "$report"
echo "distributed.sh: report in $report" >&2
