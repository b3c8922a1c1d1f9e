#!/usr/bin/env bash
# The convergence benchmark: DeepDist's two claims, asynchronous updates converge
# sooner than synchronous rounds, and AdaGrad speeds training, measured as accuracy
# against wall-clock seconds of training.
#
# word2vec skip-gram on the corpus (standard settings: dim 100, window 5, negative 5,
# sample 1e-4, min-count 5), embedded with 2 threads and under `mpirun -np 2` with 1
# thread per rank, four ways each: async + SGD, async + AdaGrad, sync + SGD, sync +
# AdaGrad. Each way is first run for --select-epochs at each of its three learning
# rates; the rate with the best analogy accuracy then trains for --epochs, its
# analogy accuracy taken every --eval-every seconds of training (the trainer's
# --eval-every: the word vectors are copied from the model server while training
# goes on and evaluated after it, so evaluation time is not on the clock).
# Then the MLP on the handwritten digits (embedded and 2 ranks, the same four ways,
# each at the best of three rates by final test accuracy), its test accuracy every
# --mlp-eval-every seconds.
#
# Usage:
#   bench/convergence.sh [--epochs 5] [--select-epochs 1] [--eval-every 2]
#                        [--setups "embedded mpi2"] [--sgd-alphas "0.0125 0.025 0.05"]
#                        [--adagrad-alphas "0.05 0.1 0.2"] [--mlp-eval-every 0.01]
#                        [--corpus PATH] [--questions PATH] [--deepdist PATH] [--out DIR]
#
# Defaults: data/corpus.txt, data/questions-words.txt, build/deepdist, docs/.
# Output, in --out: convergence.csv and convergence.png (word2vec), convergence-mlp.csv
# and convergence-mlp.png (MLP); on stdout (also under data/bench/) the rate selection
# and a table of the times to reach each target accuracy. Needs /usr/bin/python3 with
# matplotlib (scripts/install-deps.sh --peers).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "convergence.sh: $*" >&2
  exit 1
}

epochs=5
select_epochs=1
eval_every=2
setups="embedded mpi2"
sgd_alphas="0.0125 0.025 0.05"
adagrad_alphas="0.05 0.1 0.2"
mlp_sgd_alphas="0.01 0.02 0.05"
mlp_adagrad_alphas="0.01 0.03 0.1"
mlp_eval_every=0.01
corpus=
questions=
deepdist="$root/build/deepdist"
out="$root/docs"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --select-epochs) select_epochs=$2; shift 2 ;;
    --eval-every) eval_every=$2; shift 2 ;;
    --setups) setups=$2; shift 2 ;;
    --sgd-alphas) sgd_alphas=$2; shift 2 ;;
    --adagrad-alphas) adagrad_alphas=$2; shift 2 ;;
    --mlp-eval-every) mlp_eval_every=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
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
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
  die "matplotlib: not installed for /usr/bin/python3 (scripts/install-deps.sh --peers)"
digits_gz=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
[[ -f $digits_gz ]] || die "$digits_gz: missing (scripts/install-deps.sh installs python3-sklearn)"
if [[ $setups == *mpi2* ]]; then
  command -v mpirun >/dev/null || die "mpirun: not found (scripts/install-deps.sh)"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$out" "$root/data/bench"

work=$(mktemp -d /tmp/deepdist-convergence.XXXXXX)
trap 'rm -rf "$work"' EXIT
report="$root/data/bench/convergence-$(date +%Y-%m-%d-%H%M).md"
readonly work report
gzip -dc "$digits_gz" >"$work/digits.csv"

# The launcher and threads of a setup.
launch() {
  case "$1" in
    embedded) threads=2; launcher=() ;;
    mpi2) threads=1; launcher=(mpirun -np 2) ;;
    *) die "unknown setup $1" ;;
  esac
}

# One word2vec run; its JSON summary goes to $2. Arguments: setup json epochs mode
# optimizer alpha [more train flags].
w2v_run() {
  local setup=$1 json=$2 n=$3 mode=$4 opt=$5 alpha=$6
  shift 6
  launch "$setup"
  "${launcher[@]}" "$deepdist" word2vec train --input "$corpus" --output "$work/v.bin" \
    --epochs "$n" --threads "$threads" --dim 100 --window 5 --negative 5 --sample 1e-4 \
    --min-count 5 --mode "$mode" --optimizer "$opt" --alpha "$alpha" \
    --questions "$questions" --quiet --json "$@" 2>"$work/err" | tail -n 1 >"$json" ||
    { cat "$work/err" >&2; die "$setup $mode $opt $alpha: training failed"; }
}

mlp_run() {
  local setup=$1 json=$2 mode=$3 opt=$4 alpha=$5
  launch "$setup"
  "${launcher[@]}" "$deepdist" mlp train --input "$work/digits.csv" --threads "$threads" \
    --mode "$mode" --optimizer "$opt" --alpha "$alpha" --eval-every "$mlp_eval_every" \
    --json 2>"$work/err" | tail -n 1 >"$json" ||
    { cat "$work/err" >&2; die "mlp $setup $mode $opt $alpha: training failed"; }
}

field() {  # field JSON KEY
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# The rate of the best accuracy selection.txt holds for one way: best_rate MODEL SETUP MODE
# OPTIMIZER (the first of equals).
best_rate() {
  awk -v model="$1" -v s="$2" -v m="$3" -v o="$4" \
    '$1 == model && $2 == s && $3 == m && $4 == o && $6 > acc { acc = $6; a = $5 }
     END { print a }' "$work/selection.txt"
}

# Rate selection, then the series of the best rate. selection.txt lines:
# "model setup mode optimizer alpha accuracy seconds".
: >"$work/selection.txt"
for setup in $setups; do
  for mode in async sync; do
    for opt in sgd adagrad; do
      alphas=$sgd_alphas
      [[ $opt == adagrad ]] && alphas=$adagrad_alphas
      for a in $alphas; do
        echo "convergence.sh: word2vec $setup $mode $opt alpha $a, $select_epochs epoch(s)" >&2
        j="$work/select-$setup-$mode-$opt-$a.json"
        w2v_run "$setup" "$j" "$select_epochs" "$mode" "$opt" "$a"
        echo "word2vec $setup $mode $opt $a $(field "$j" accuracy) $(field "$j" train_seconds)" \
          >>"$work/selection.txt"
      done
      best=$(best_rate word2vec "$setup" "$mode" "$opt")
      echo "convergence.sh: word2vec $setup $mode $opt alpha $best, $epochs epochs, series" >&2
      w2v_run "$setup" "$work/series-word2vec-$setup-$mode-$opt.json" "$epochs" "$mode" "$opt" \
        "$best" --eval-every "$eval_every"
    done
  done
done
for setup in $setups; do
  for mode in async sync; do
    for opt in sgd adagrad; do
      alphas=$mlp_sgd_alphas
      [[ $opt == adagrad ]] && alphas=$mlp_adagrad_alphas
      for a in $alphas; do
        echo "convergence.sh: mlp $setup $mode $opt alpha $a" >&2
        j="$work/mlp-$setup-$mode-$opt-$a.json"
        mlp_run "$setup" "$j" "$mode" "$opt" "$a"
        echo "mlp $setup $mode $opt $a $(field "$j" test_accuracy) $(field "$j" seconds)" \
          >>"$work/selection.txt"
      done
      best=$(best_rate mlp "$setup" "$mode" "$opt")
      cp "$work/mlp-$setup-$mode-$opt-$best.json" "$work/series-mlp-$setup-$mode-$opt.json"
    done
  done
done

{
  echo "deepdist convergence, $(date -u +%Y-%m-%d); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores."
  echo "Command: bench/convergence.sh --epochs $epochs --select-epochs $select_epochs --eval-every $eval_every --setups \"$setups\" --sgd-alphas \"$sgd_alphas\" --adagrad-alphas \"$adagrad_alphas\" --mlp-eval-every $mlp_eval_every"
  echo
  /usr/bin/python3 "$root/bench/convergence_report.py" --work "$work" --out "$out" \
    --epochs "$epochs" --select-epochs "$select_epochs"
} | tee "$report"
