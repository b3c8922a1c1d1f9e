#!/usr/bin/env bash
# The deepdist binary under mpirun: the same command as embedded trains
# distributed, rank 0 alone writes and prints, the counts of every rank agree,
# and a failure on one rank ends the job with one message, never a hang.
#   mpi_cli_test.sh CASE DEEPDIST MPIEXEC ARGS...
# CASE: train | fp32 | sync | adagrad | initvectors | evalevery | badinput | midtraining | flags |
#       checkpoint | mlp | logreg
# (train and adagrad on the default int4 wire, fp32 on values)
set -uo pipefail
case_name=$1
bin=$2
shift 2
mpiexec=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() {
  echo "FAIL: $*"
  for f in "$dir"/out "$dir"/err; do [[ -f $f ]] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}

# A small corpus with two topics, in two part files: each line is "the",
# six words of one topic in a pseudo-random order, and "a".
corpus() {
  mkdir -p "$dir/parts"
  local part
  for part in 0 1; do
    awk -v seed=$((part + 7)) 'BEGIN {
      split("cat dog mouse horse cow sheep goat pig duck lion", animals, " ")
      split("car bus train plane boat truck bike tram ship taxi", vehicles, " ")
      s = seed
      for (i = 0; i < 800; i++) {
        line = "the"
        for (k = 0; k < 6; k++) {
          s = (s * 1103515245 + 12345) % 2147483648
          j = 1 + int(s / 2147483648 * 10)
          line = line " " (i % 2 ? vehicles[j] : animals[j])
        }
        print line " a"
      }
    }' >"$dir/parts/part-0000$part"
  done
}

# Runs a command with a time limit; records its exit code and elapsed seconds.
run() {
  local limit=$1
  shift
  local start
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  elapsed=$(($(date +%s) - start))
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then fail "no end within ${limit}s"; fi
}

json_field() {  # json_field FIELD: from the last line of $dir/out
  tail -n 1 "$dir/out" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

corpus
epochs=2
[[ $case_name == adagrad ]] && epochs=10
common=(word2vec train --input "$dir/parts" --dim 16 --min-count 1 --epochs $epochs --threads 1
  --quiet --json)
case "$case_name" in
  train | fp32 | sync | adagrad | hs)
    extra=()
    [[ $case_name == fp32 ]] && extra=(--wire fp32)
    # Hierarchical softmax: "out" holds the Huffman tree's nodes, sharded
    # by row as the words are.
    [[ $case_name == hs ]] && extra=(--loss hs)
    [[ $case_name == sync ]] && extra=(--mode sync)
    [[ $case_name == adagrad ]] && extra=(--optimizer adagrad --alpha 0.1)
    run 120 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.txt" "${extra[@]}"
    [[ $rc -eq 0 ]] || fail "exit $rc"
    [[ $(json_field ranks) == 2 ]] || fail "ranks should be 2"
    [[ $(json_field bytes_sent) -gt 0 ]] || fail "no bytes sent"
    # Rank 0 alone prints: one JSON line.
    [[ $(grep -c '^{' "$dir/out") -eq 1 ]] || fail "more than one summary printed"
    # The words of both ranks' shares are counted (2 epochs of both parts).
    want=$((epochs * $(cat "$dir"/parts/* | wc -w)))
    [[ $(json_field words) -eq $want ]] || fail "words $(json_field words), want $want"
    [[ -s "$dir/v.txt" ]] || fail "no vectors"
    [[ $(head -n 1 "$dir/v.txt") == "22 16" ]] || fail "header $(head -n 1 "$dir/v.txt")"
    ls "$dir" | grep -q '\.tmp' && fail "a temporary file was left"
    # The vectors learned the topics: cat is nearer dog than car.
    "$bin" word2vec similar --vectors "$dir/v.txt" cat --topn 21 --json >"$dir/out" 2>"$dir/err" ||
      fail "similar failed"
    tail -n 1 "$dir/out" | /usr/bin/python3 -c '
import json, sys
scores = {r["word"]: r["score"] for r in json.load(sys.stdin)["results"]}
assert scores["dog"] > scores["car"], scores
' || fail "cat is not nearer dog than car"
    ;;
  initvectors)
    # Every rank starts from the same file: with a vanishing rate the
    # gathered vectors are the file's, rows of both ranks' shards alike.
    run 120 "$bin" "${common[@]}" --output "$dir/v0.txt"
    [[ $rc -eq 0 ]] || fail "embedded exit $rc"
    run 120 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.txt" \
      --init-vectors "$dir/v0.txt" --alpha 0.0000001 --min-alpha 0.00000001
    [[ $rc -eq 0 ]] || fail "exit $rc"
    [[ $(json_field init_words) == 22 ]] || fail "init_words $(json_field init_words), want 22"
    /usr/bin/python3 - "$dir/v0.txt" "$dir/v.txt" <<'PY' || fail "the vectors moved from the file's"
import sys
def load(path):
    with open(path) as f:
        next(f)
        return {w: [float(x) for x in rest] for w, *rest in (line.split() for line in f)}
before, after = load(sys.argv[1]), load(sys.argv[2])
assert before.keys() == after.keys(), (before.keys(), after.keys())
for w in before:
    assert all(abs(a - b) < 1e-4 for a, b in zip(before[w], after[w])), w
PY
    ;;
  evalevery)
    # Snapshots pulled from both ranks' shards while training goes on; the
    # final accuracy is the analogy command's on the written vectors.
    printf ': pairs\ncat dog car bus\nhorse cow train plane\nlion duck taxi ship\n' >"$dir/q.txt"
    run 120 "${mpiexec[@]}" "$bin" word2vec train --input "$dir/parts" --dim 16 --min-count 1 \
      --epochs 300 --threads 1 --quiet --json --output "$dir/v.txt" --questions "$dir/q.txt" \
      --eval-every 0.02 --restrict 0
    [[ $rc -eq 0 ]] || fail "exit $rc"
    cp "$dir/out" "$dir/train.json"
    "$bin" word2vec analogy --vectors "$dir/v.txt" --questions "$dir/q.txt" --restrict 0 \
      --json >"$dir/out" 2>"$dir/err" || fail "analogy failed"
    /usr/bin/python3 - "$dir" <<'PY' || fail "accuracy series"
import json, sys
d = sys.argv[1]
train = json.loads(open(d + "/train.json").read().splitlines()[-1])
eval_ = json.loads(open(d + "/out").read().splitlines()[-1])
series = train["accuracy_series"]
assert train["ranks"] == 2, train
assert train["accuracy"] == eval_["accuracy"], (train["accuracy"], eval_["accuracy"])
assert series[-1]["accuracy"] == train["accuracy"] and series[-1]["progress"] == 1.0, series
assert all(a["seconds"] < b["seconds"] for a, b in zip(series, series[1:])), series
if train["train_seconds"] > 0.2:
    assert len(series) >= 2, series
PY
    ;;
  badinput)
    # A truncated .gz part: one rank's share of the vocabulary count fails.
    head -c 200 <(gzip -c "$dir/parts/part-00001") >"$dir/parts/part-00001.gz"
    rm "$dir/parts/part-00001"
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.bin"
    [[ $rc -eq 1 ]] || fail "exit $rc, want 1"
    [[ $(grep -c '^deepdist: ' "$dir/err") -eq 1 ]] || fail "want one 'deepdist: ' line"
    grep -q '^deepdist: .*part-00001.gz' "$dir/err" || fail "the message names the file"
    [[ -e "$dir/v.bin" ]] && fail "an output was written"
    ;;
  midtraining)
    # The vocabulary is read from a file, so rank 1 meets its truncated part
    # only while training: it ends the job.
    cat "$dir"/parts/* | tr ' ' '\n' | sort | uniq -c | awk '{print $2, $1}' >"$dir/vocab.txt"
    head -c 300 <(gzip -c "$dir/parts/part-00001") >"$dir/parts/part-00001.gz"
    rm "$dir/parts/part-00001"
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.bin" --read-vocab "$dir/vocab.txt"
    [[ $rc -ne 0 ]] || fail "exit 0"
    grep -q '^deepdist: .*part-00001.gz' "$dir/err" || fail "no message naming the file"
    [[ $(grep -c '^deepdist: ' "$dir/err") -eq 1 ]] || fail "want one 'deepdist: ' line"
    [[ -e "$dir/v.bin" ]] && fail "an output was written"
    ;;
  flags)
    # A flag the parser rejects is reported once (by rank 0), exit 2.
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.bin" --epochs 3
    [[ $rc -eq 2 ]] || fail "exit $rc, want 2"
    [[ $(grep -c '^deepdist: --epochs: ' "$dir/err") -eq 1 ]] || fail "want one message"
    # A value the command rejects: the same.
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.bin" --push-every 0
    [[ $rc -eq 2 ]] || fail "exit $rc, want 2"
    [[ $(grep -c '^deepdist: --push-every: ' "$dir/err") -eq 1 ]] || fail "want one message"
    # A wire that cannot carry sync rounds: rejected, not ignored.
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output "$dir/v.bin" --mode sync --wire int4
    [[ $rc -eq 2 ]] || fail "exit $rc, want 2"
    [[ $(grep -c '^deepdist: --wire: ' "$dir/err") -eq 1 ]] || fail "want one --wire message"
    # An unwritable output: found before training, once.
    run 60 "${mpiexec[@]}" "$bin" "${common[@]}" --output /nonexistent-dir/v.bin
    [[ $rc -eq 1 ]] || fail "exit $rc, want 1"
    [[ $(grep -c '^deepdist: /nonexistent-dir' "$dir/err") -eq 1 ]] || fail "want one message"
    ;;
  mlp)
    # The MLP on the handwritten digits, 2 ranks: rank 0 alone prints and
    # writes the model, which predict reads.
    digits=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
    [[ -f $digits ]] || fail "$digits: missing (scripts/install-deps.sh installs python3-sklearn)"
    gzip -dc "$digits" >"$dir/digits.csv"
    run 120 "${mpiexec[@]}" "$bin" mlp train --input "$dir/digits.csv" --threads 1 --json \
      --output "$dir/model.txt"
    [[ $rc -eq 0 ]] || fail "exit $rc"
    [[ $(grep -c '^{' "$dir/out") -eq 1 ]] || fail "more than one summary printed"
    [[ $(json_field ranks) == 2 ]] || fail "ranks should be 2"
    /usr/bin/python3 -c "import sys; sys.exit(float(sys.argv[1]) < 0.95)" "$(json_field test_accuracy)" ||
      fail "test accuracy $(json_field test_accuracy) under 0.95"
    "$bin" mlp predict --model "$dir/model.txt" --input "$dir/digits.csv" --json >"$dir/out" \
      2>"$dir/err" || fail "predict failed"
    # Sync rounds of one partition per worker: 2 ranks x 1 thread train
    # exactly as 2 threads embedded (the same rounds, the same means).
    run 120 "${mpiexec[@]}" "$bin" mlp train --input "$dir/digits.csv" --threads 1 --json \
      --mode sync --epochs 20
    [[ $rc -eq 0 ]] || fail "sync: exit $rc"
    mpi_loss=$(json_field loss)
    run 120 "$bin" mlp train --input "$dir/digits.csv" --threads 2 --json --mode sync --epochs 20
    [[ $rc -eq 0 ]] || fail "embedded sync: exit $rc"
    [[ $(json_field loss) == "$mpi_loss" ]] || fail "sync loss $mpi_loss on 2 ranks, $(json_field loss) embedded"
    # Checkpoints of the gradient form under MPI: a SIGTERM to one rank
    # stops both with a final checkpoint of both shards; it resumes embedded.
    "${mpiexec[@]}" "$bin" mlp train --input "$dir/digits.csv" --threads 1 --json --epochs 400 \
      --checkpoint "$dir/mck" --checkpoint-every 0.05 >"$dir/out" 2>"$dir/err" &
    launcher=$!
    for _ in $(seq 600); do
      [[ -f "$dir/mck/checkpoint.ddc" ]] && break
      kill -0 "$launcher" 2>/dev/null || fail "mlp: the run ended before its first checkpoint"
      sleep 0.1
    done
    sleep 0.2
    kill -TERM "$(pgrep -P "$launcher" | tail -n 1)"
    wait "$launcher"
    rc=$?
    [[ $rc -eq 143 ]] || fail "mlp: SIGTERM to one rank: exit $rc, want 143"
    [[ $(grep -c '^deepdist: interrupted by .*checkpoint in ' "$dir/err") -eq 1 ]] ||
      fail "mlp: want one line naming the checkpoint"
    ls "$dir/mck" | grep -q '^shard-1-of-2\.' || fail "mlp: no shard of rank 1: $(ls "$dir/mck")"
    run 120 "$bin" mlp train --resume "$dir/mck" --threads 2 --json --output "$dir/model2.txt"
    [[ $rc -eq 0 ]] || fail "mlp: resumed embedded: exit $rc"
    [[ $(json_field resumed) == True ]] || fail "mlp: not resumed"
    [[ $(json_field epochs) == 400 ]] || fail "mlp: the checkpoint's epochs not taken"
    /usr/bin/python3 -c "import sys; sys.exit(float(sys.argv[1]) < 0.95)" "$(json_field test_accuracy)" ||
      fail "mlp: resumed test accuracy $(json_field test_accuracy) under 0.95"
    ;;
  logreg)
    # Sparse logistic regression over 10^6 features, 2 ranks (each pulls only
    # the rows its partitions' features fall in): the signs of the 100
    # generating weights come back.
    /usr/bin/python3 - "$dir" <<'PY'
import math, random, sys
random.seed(3)
F = 10**6
nz = random.sample(range(1, F + 1), 100)
w = {j: random.choice([-1, 1]) * random.uniform(0.5, 2) for j in nz}
with open(sys.argv[1] + "/data.svm", "w") as f:
    for i in range(8000):
        feats = sorted(set(random.sample(nz, 10) + random.sample(range(1, F + 1), 10)))
        z = sum(w.get(j, 0) for j in feats)
        y = random.random() < 1 / (1 + math.exp(-2 * z))
        f.write(("+1" if y else "-1") + " " + " ".join("%d:1" % j for j in feats) + "\n")
with open(sys.argv[1] + "/truth.txt", "w") as f:
    for j in nz:
        f.write("%d %f\n" % (j, w[j]))
PY
    run 120 "${mpiexec[@]}" "$bin" logreg train --input "$dir/data.svm" --features 1000000 \
      --threads 1 --json --output "$dir/model.txt"
    [[ $rc -eq 0 ]] || fail "exit $rc"
    [[ $(grep -c '^{' "$dir/out") -eq 1 ]] || fail "more than one summary printed"
    [[ $(json_field ranks) == 2 ]] || fail "ranks should be 2"
    /usr/bin/python3 - "$dir" <<'PY' || fail "signs not recovered"
import sys
d = sys.argv[1]
truth = {int(a): float(b) for a, b in (l.split() for l in open(d + "/truth.txt"))}
model = {}
for line in open(d + "/model.txt").readlines()[1:]:
    a, b = line.split()
    model[int(a)] = float(b)
right = sum(1 for j, v in truth.items() if model.get(j, 0) != 0 and (model[j] > 0) == (v > 0))
print("signs recovered:", right, "of", len(truth))
sys.exit(right < 95)
PY
    ;;
  checkpoint)
    # Checkpoints under MPI: each rank saves its shard, rank 0 the file that
    # names them. One rank killed ends the job; the run resumes from the last
    # checkpoint on 3 ranks and embedded (resharded by row id), and every
    # word of every epoch is trained exactly once. A SIGTERM to one rank
    # stops every rank with a final checkpoint and one line.
    ck=(--checkpoint "$dir/ck" --checkpoint-every 0.05)
    # Long enough (several seconds) to be stopped part-way, with parts of
    # 64,000 words, so that the workers pause inside them (every 10,000
    # words) and the tasks in flight are dealt out on resume.
    mkdir "$dir/big"
    for part in "$dir"/parts/*; do
      for _ in $(seq 10); do cat "$part"; done >"$dir/big/$(basename "$part")"
    done
    long=(word2vec train --input "$dir/big" --dim 64 --min-count 1 --sample 0 --epochs 150
      --threads 1 --quiet --json)
    want=$((150 * $(cat "$dir"/big/* | wc -w)))
    # Starts the long run in the background; waits for its first checkpoint.
    start_long() {
      "${mpiexec[@]}" "$bin" "${long[@]}" --output "$dir/v.txt" "${ck[@]}" >"$dir/out" \
        2>"$dir/err" &
      launcher=$!
      for _ in $(seq 600); do
        [[ -f "$dir/ck/checkpoint.ddc" ]] && break
        kill -0 "$launcher" 2>/dev/null || fail "the run ended before its first checkpoint"
        sleep 0.1
      done
      [[ -f "$dir/ck/checkpoint.ddc" ]] || fail "no checkpoint within 60 s"
      sleep 0.3
      rank=$(pgrep -P "$launcher" | tail -n 1)
      [[ -n $rank ]] || fail "no rank process found"
    }
    # Waits up to 60 s for the launcher; rc is its exit code.
    wait_long() {
      for _ in $(seq 600); do
        kill -0 "$launcher" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$launcher" 2>/dev/null && { kill -KILL "$launcher"; fail "no end within 60 s"; }
      wait "$launcher"
      rc=$?
    }
    start_long
    kill -KILL "$rank"
    wait_long
    [[ $rc -ne 0 ]] || fail "the job with a killed rank exited 0"
    [[ -e "$dir/v.txt" ]] && fail "an output was written"
    # The checkpoint names shards that are all there, and nothing is half-written.
    ls "$dir/ck" | grep -q '^shard-0-of-2\.[0-9]*\.ddc$' || fail "no shard of rank 0: $(ls "$dir/ck")"
    ls "$dir/ck" | grep -q '^shard-1-of-2\.[0-9]*\.ddc$' || fail "no shard of rank 1: $(ls "$dir/ck")"
    cp -r "$dir/ck" "$dir/ck1"
    # A damaged or missing shard file is refused, naming it.
    cp -r "$dir/ck" "$dir/ck2"
    shard=$(ls "$dir/ck2" | grep '^shard-1-of-2')
    truncate -s 1000 "$dir/ck2/$shard"
    run 60 "${mpiexec[@]}" "$bin" word2vec train --resume "$dir/ck2" --output "$dir/v2.txt"
    [[ $rc -eq 1 ]] || fail "a truncated shard: exit $rc, want 1"
    [[ $(grep -c "^deepdist: .*$shard" "$dir/err") -eq 1 ]] || fail "want one line naming $shard"
    rm "$dir/ck2/$shard"
    run 60 "$bin" word2vec train --resume "$dir/ck2" --output "$dir/v2.txt"
    [[ $rc -eq 1 ]] || fail "a missing shard: exit $rc, want 1"
    grep -q "^deepdist: .*$shard: missing" "$dir/err" || fail "the missing shard is not named"
    three=("${mpiexec[@]}")
    three[2]=3
    run 120 "${three[@]}" "$bin" word2vec train --resume "$dir/ck" --output "$dir/v.txt" \
      --quiet --json
    [[ $rc -eq 0 ]] || fail "resumed on 3 ranks: exit $rc"
    [[ $(json_field ranks) == 3 ]] || fail "ranks should be 3"
    [[ $(json_field resumed) == True ]] || fail "not resumed"
    [[ $(json_field words) -eq $want ]] || fail "3 ranks: words $(json_field words), want $want"
    ls "$dir/ck" | grep -q 'tmp' && fail "a temporary file was left: $(ls "$dir/ck")"
    run 120 "$bin" word2vec train --resume "$dir/ck1" --output "$dir/v1.txt" --threads 2 --quiet \
      --json
    [[ $rc -eq 0 ]] || fail "resumed embedded: exit $rc"
    [[ $(json_field words) -eq $want ]] || fail "embedded: words $(json_field words), want $want"
    # The topics learned, on average (3 ranks on 2 cores, every word of
    # this 22-word vocabulary a hot row, train it too noisily to check one
    # pair; the 3-rank vectors must load).
    topics() {
      "$bin" word2vec similar --vectors "$1" cat --topn 21 --json >"$dir/out" 2>"$dir/err" ||
        fail "$1: similar failed"
      tail -n 1 "$dir/out" | /usr/bin/python3 -c '
import json, sys
scores = {r["word"]: r["score"] for r in json.load(sys.stdin)["results"]}
animals = sum(scores[w] for w in "dog mouse horse cow sheep goat pig duck lion".split()) / 9
vehicles = sum(scores[w] for w in "car bus train plane boat truck bike tram ship taxi".split()) / 10
assert animals > vehicles, scores
' || fail "$1: cat is not nearer the animals than the vehicles"
    }
    "$bin" word2vec similar --vectors "$dir/v.txt" cat --json >/dev/null 2>&1 ||
      fail "the 3-rank vectors do not load"
    topics "$dir/v1.txt"
    # SIGTERM to one rank: a final checkpoint, one line, exit 143.
    rm -rf "$dir/ck" "$dir/v.txt"
    start_long
    kill -TERM "$rank"
    wait_long
    [[ $rc -eq 143 ]] || fail "SIGTERM to one rank: exit $rc, want 143"
    [[ $(grep -c '^deepdist: ' "$dir/err") -eq 1 ]] || fail "want one 'deepdist: ' line"
    grep -q '^deepdist: interrupted by .*checkpoint in .*ck/checkpoint.ddc' "$dir/err" ||
      fail "the message does not name the checkpoint"
    run 120 "${mpiexec[@]}" "$bin" word2vec train --resume "$dir/ck" --output "$dir/v.txt" \
      --quiet --json
    [[ $rc -eq 0 ]] || fail "resumed after SIGTERM: exit $rc"
    [[ $(json_field words) -eq $want ]] || fail "after SIGTERM: words $(json_field words), want $want"
    topics "$dir/v.txt"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name (${elapsed}s)"
