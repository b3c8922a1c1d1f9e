#!/usr/bin/env bash
# The descent-rule benchmark: embedded word2vec skip-gram (2 threads) by SGD and by
# AdaGrad at several learning rates, in one invocation, at 1 and 5 epochs; optionally
# SGD by another deepdist binary (the previous main's) beside it, for the "no speed
# lost" check. Embedded, AdaGrad trains in place (Hogwild AdaGrad: the master rows and
# the rule's accumulators, no copies).
#
# Usage:
#   bench/optimizers.sh [--epochs "1 5"] [--runs R] [--corpus PATH] [--questions PATH]
#                       [--deepdist PATH] [--baseline PATH] [--sgd-alpha A]
#                       [--adagrad-alphas "0.05 0.1 0.2"] [--args "EXTRA TRAIN FLAGS"]
#
# Defaults: epochs 1 and 5, 1 run, data/corpus.txt, data/questions-words.txt,
# build/deepdist, no baseline, SGD at alpha 0.025 (decaying as the trainer's schedule
# says), AdaGrad at 0.05, 0.1 and 0.2 (constant). Settings otherwise the standard ones
# (dim 100, window 5, negative 5, sample 1e-4, min-count 5).
# The runs of one epoch count and run number are interleaved (baseline SGD, SGD, then
# AdaGrad at each rate), and each AdaGrad run's words/s is divided by the SGD run's of
# the same round, so that the ratio holds when the machine's speed drifts.
#
# What is measured, per run: words/s (the trainer's --json words_per_second), the
# final training loss, deepdist's analogy accuracy (3CosAdd, 30,000 most frequent
# words) and queen's rank among the top 3 answers to king - man + woman (- if not).
# Output: a markdown table on stdout (also saved under data/bench/): medians over the
# runs. Timings are reported, never judged.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "optimizers.sh: $*" >&2
  exit 1
}

epochs_list="1 5"
runs=1
corpus=
questions=
deepdist="$root/build/deepdist"
baseline=
sgd_alpha=0.025
adagrad_alphas="0.05 0.1 0.2"
extra=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) epochs_list=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --sgd-alpha) sgd_alpha=$2; shift 2 ;;
    --adagrad-alphas) adagrad_alphas=$2; shift 2 ;;
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

work=$(mktemp -d /tmp/deepdist-optimizers.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$root/data/bench"
report="$root/data/bench/optimizers-$(date +%Y-%m-%d-%H%M).md"
readonly work report

# One run: prints "name epochs run wps loss acc queen".
run_one() {
  local name=$1 bin=$2 epochs=$3 run=$4
  shift 4
  local out="$work/$name-$epochs-$run.bin" json acc queen
  # shellcheck disable=SC2086
  json=$("$bin" word2vec train --input "$corpus" --output "$out" --epochs "$epochs" \
    --threads 2 --dim 100 --window 5 --negative 5 --sample 1e-4 --min-count 5 \
    --quiet --json "$@" $extra 2>"$work/err" | tail -n 1) ||
    { cat "$work/err" >&2; die "$name: training failed"; }
  acc=$("$deepdist" word2vec analogy --vectors "$out" --questions "$questions" --json |
    tail -n 1 | /usr/bin/python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))')
  queen=$("$deepdist" word2vec query --vectors "$out" --positive king,woman --negative man \
    --topn 3 --json | tail -n 1 | /usr/bin/python3 -c '
import json, sys
words = [r["word"] for r in json.load(sys.stdin)["results"]]
print(words.index("queen") + 1 if "queen" in words else "-")')
  echo "$json" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sys.argv[1], sys.argv[2], sys.argv[3], "%.0f" % d["words_per_second"], "%.4f" % d["loss"],
      sys.argv[4], sys.argv[5])' "$name" "$epochs" "$run" "$acc" "$queen"
  rm -f "$out"
}

rows="$work/rows"
: >"$rows"
for epochs in $epochs_list; do
  for run in $(seq 1 "$runs"); do
    if [[ -n "$baseline" ]]; then
      echo "optimizers.sh: baseline sgd, $epochs epoch(s), run $run" >&2
      run_one "baseline-sgd-$sgd_alpha" "$baseline" "$epochs" "$run" --alpha "$sgd_alpha" >>"$rows"
    fi
    echo "optimizers.sh: sgd, $epochs epoch(s), run $run" >&2
    run_one "sgd-$sgd_alpha" "$deepdist" "$epochs" "$run" --alpha "$sgd_alpha" >>"$rows"
    for a in $adagrad_alphas; do
      echo "optimizers.sh: adagrad $a, $epochs epoch(s), run $run" >&2
      run_one "adagrad-$a" "$deepdist" "$epochs" "$run" --optimizer adagrad --alpha "$a" >>"$rows"
    done
  done
done

{
  echo "Embedded word2vec skip-gram, 2 threads, $(date -u +%Y-%m-%d); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores."
  echo "Command: bench/optimizers.sh --epochs \"$epochs_list\" --runs $runs --sgd-alpha $sgd_alpha --adagrad-alphas \"$adagrad_alphas\"${baseline:+ --baseline $baseline}${extra:+ --args \"$extra\"}"
  echo
  /usr/bin/python3 - "$rows" "$sgd_alpha" <<'EOF'
import statistics, sys
from collections import defaultdict
rows = [line.split() for line in open(sys.argv[1])]
sgd = "sgd-" + sys.argv[2]
wps = {(r[0], r[1], r[2]): float(r[3]) for r in rows}
by = defaultdict(list)
for r in rows:
    by[(r[0], r[1])].append(r)
print("| run | epochs | words/s | vs SGD (paired) | loss | analogy % | queen |")
print("|---|---|---|---|---|---|---|")
for (name, epochs), rs in by.items():
    ratios = [float(r[3]) / wps[(sgd, r[1], r[2])] for r in rs if (sgd, r[1], r[2]) in wps]
    med = lambda i: statistics.median(float(r[i]) for r in rs)
    print("| %s | %s | %.0f | %.3f | %.4f | %.2f | %s |" % (
        name, epochs, med(3), statistics.median(ratios), med(4), med(5),
        ",".join(r[6] for r in rs)))
EOF
} | tee "$report"
