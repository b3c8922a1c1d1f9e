#!/usr/bin/env bash
# The peers benchmark: deepdist's embedded word2vec trainer against gensim and fastText
# on the same corpus, with the same hyper-parameters and the same number of threads.
#
# Usage:
#   bench/peers.sh [--epochs N] [--runs R] [--models sg,cbow] [--corpus PATH]
#                  [--questions PATH] [--only deepdist,gensim,fasttext] [--threads T]
#                  [--deepdist PATH] [--deepdist-args "EXTRA TRAIN FLAGS"] [--loss ns|hs]
#
# Defaults: 1 epoch, 1 run, skip-gram only, data/corpus.txt, data/questions-words.txt,
# all three tools, 2 threads, build/deepdist. Missing data under data/ is fetched with
# scripts/get-data.sh.
#
# Settings shared by every trainer: dim 100, window 5, negative 5, sample 1e-4,
# min-count 5, alpha 0.025 (skip-gram) or 0.05 (CBOW), T threads, N epochs.
# --loss hs trains hierarchical softmax instead of negative sampling, with no negatives:
# deepdist --loss hs, gensim hs=1 negative=0, fastText -loss hs.
#   deepdist  build/deepdist word2vec train ... --json on the corpus as it is;
#   gensim    bench/gensim_train.py (Word2Vec, corpus_file mode) on a copy of the corpus
#             split into 1000-word lines (cached next to the corpus as NAME-1000.txt),
#             since corpus_file mode reads sentences as lines;
#   fastText  fasttext skipgram|cbow ... -minn 0 -maxn 0 (plain word2vec, no subwords).
# For each model, the runs are interleaved (deepdist, gensim, fastText, then again), so
# that drift in the machine's load touches every tool alike.
#
# What is measured, per run:
#   words/s    corpus tokens (wc -w) * epochs / wall seconds of the whole trainer process
#              (reading, vocabulary, training and writing the vectors), the convention of
#              the project's benchmark numbers;
#   wall s, peak MiB   from /usr/bin/time (elapsed time, maximum resident set size);
#   analogy    top-1 3CosAdd accuracy on the analogy questions, 30,000 most frequent words,
#              scored for every tool by gensim's evaluator (bench/gensim_eval.py); deepdist's
#              vectors are also scored by deepdist's own evaluator, and the two must agree
#              within 0.1 point;
#   queen rank queen's rank among the top 10 answers to king - man + woman (deepdist's
#              `word2vec query` for deepdist, gensim's most_similar for the others).
#
# Output: a markdown report (machine, settings, one row per run, medians per tool and model,
# deepdist's ratios to each peer, the evaluator check) on stdout, saved with the raw rows as
# data/bench/peers-DATE.md and .tsv. Progress goes to stderr.
# Exit status: 0 when every run succeeded and every evaluator check passed, 1 otherwise
# (a run whose training succeeded but whose scoring failed is reported as "incomplete").
# Timings are reported, never judged.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root
readonly PY=/usr/bin/python3  # Debian's interpreter, which has gensim
readonly DIM=100 WINDOW=5 NEGATIVE=5 SAMPLE=1e-4 MIN_COUNT=5 RESTRICT=30000

die() {
  echo "peers.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- command line ---------------------------------------------------------------
epochs=1
runs=1
models=sg
corpus=
questions=
only=deepdist,gensim,fasttext
threads=2
deepdist="$root/build/deepdist"
deepdist_args=""
loss=ns
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs | --runs | --models | --corpus | --questions | --only | --threads | --deepdist | --deepdist-args | --loss)
      [[ $# -ge 2 ]] || die "$1 needs a value"
      ;;&
    --epochs) epochs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --deepdist-args) deepdist_args=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $epochs =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive integer, not '$epochs'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, not '$runs'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, not '$threads'"
[[ $loss == ns || $loss == hs ]] || die "--loss takes ns or hs, not '$loss'"
# Each tool's flags for the loss: negative sampling with NEGATIVE words, or
# hierarchical softmax with none.
if [[ $loss == ns ]]; then
  deepdist_loss=(--negative "$NEGATIVE")
  gensim_loss=(--negative "$NEGATIVE" --hs 0)
  fasttext_loss=(-neg "$NEGATIVE" -loss ns)
else
  deepdist_loss=(--loss hs)
  gensim_loss=(--negative 0 --hs 1)
  fasttext_loss=(-loss hs)
fi

IFS=, read -r -a model_list <<<"$models"
for m in "${model_list[@]}"; do
  [[ $m == sg || $m == cbow ]] || die "--models takes sg and/or cbow, not '$m'"
done
[[ ${#model_list[@]} -gt 0 ]] || die "--models is empty"
IFS=, read -r -a only_list <<<"$only"
for t in "${only_list[@]}"; do
  [[ $t == deepdist || $t == gensim || $t == fasttext ]] ||
    die "--only takes deepdist, gensim and/or fasttext, not '$t'"
done
# The tools in their fixed order, filtered by --only.
tools=()
for t in deepdist gensim fasttext; do
  if [[ ",$only," == *",$t,"* ]]; then tools+=("$t"); fi
done
[[ ${#tools[@]} -gt 0 ]] || die "--only selects no tool"
uses() { [[ " ${tools[*]} " == *" $1 "* ]]; }

# A path as given when it exists from the working directory, else from the repository root.
resolve() {
  local p=$1
  if [[ $p == /* ]]; then
    echo "$p"
  elif [[ -e $p ]]; then
    echo "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
  else
    echo "$root/$p"
  fi
}

default_data=0
if [[ -z $corpus ]]; then
  corpus="$root/data/corpus.txt"
  default_data=1
else
  corpus=$(resolve "$corpus")
fi
if [[ -z $questions ]]; then
  questions="$root/data/questions-words.txt"
  default_data=1
else
  questions=$(resolve "$questions")
fi
# Data under data/ comes from get-data.sh; fetch it when it is missing.
if [[ ! -f $corpus || ! -f $questions ]]; then
  if [[ $default_data -eq 1 || ($corpus == "$root"/data/* && $questions == "$root"/data/*) ]]; then
    "$root/scripts/get-data.sh" >&2
  fi
fi
[[ -f $corpus ]] || die "corpus $corpus does not exist"
[[ -f $questions ]] || die "questions $questions do not exist"

# --- tools ----------------------------------------------------------------------
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (Debian package 'time')"
deepdist=$(resolve "$deepdist")
if uses deepdist && [[ ! -x $deepdist ]]; then
  die "${deepdist#"$root"/} is missing: build it first (cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build), or leave it out with --only gensim,fasttext"
fi
if ! "$PY" -c 'import gensim' 2>/dev/null; then
  die "gensim is not importable by $PY (Debian package python3-gensim); it trains the gensim runs and scores every run"
fi
if uses fasttext && ! command -v fasttext >/dev/null 2>&1; then
  die "fasttext is not on the PATH (Debian package fasttext), or leave it out with --only"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/deepdist-peers.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

outdir="$root/data/bench"
mkdir -p "$outdir"
stamp=$(date +%Y-%m-%d-%H%M%S)
report="$outdir/peers-$stamp.md"
rows="$outdir/peers-$stamp.tsv"

log() { echo "peers.sh: $*" >&2; }

log "counting the corpus tokens of $corpus"
tokens=$(wc -w <"$corpus" | tr -d ' ')
[[ $tokens -gt 0 ]] || die "corpus $corpus has no words"

# --- gensim's copy of the corpus in 1000-word lines -----------------------------
if uses gensim; then
  cdir=$(dirname "$corpus")
  stem=$(basename "$corpus")
  stem=${stem%.txt}
  if [[ $cdir == "$root/data" ]]; then
    lines_corpus="$root/data/$stem-1000.txt"
  else
    lines_corpus="$outdir/$stem-$(printf '%s' "$corpus" | cksum | cut -d' ' -f1)-1000.txt"
  fi
  if [[ ! -f $lines_corpus || $corpus -nt $lines_corpus ]]; then
    log "writing $lines_corpus (the corpus in 1000-word lines, for gensim)"
    "$PY" - "$corpus" "$lines_corpus.tmp.$$" <<'PY'
import sys

# Streams the corpus in blocks, so memory stays small for any corpus size.
src, dst = sys.argv[1], sys.argv[2]
per_line = 1000
pending = []
with open(src, "rb") as fin, open(dst, "wb") as fout:
    carry = b""
    while True:
        block = fin.read(1 << 22)
        if not block:
            break
        block = carry + block
        words = block.split()
        # A word cut by the block's end is finished by the next block.
        carry = words.pop() if words and not block[-1:].isspace() else b""
        pending.extend(words)
        full = len(pending) - len(pending) % per_line
        for i in range(0, full, per_line):
            fout.write(b" ".join(pending[i:i + per_line]) + b"\n")
        del pending[:full]
    if carry:
        pending.append(carry)
    for i in range(0, len(pending), per_line):
        fout.write(b" ".join(pending[i:i + per_line]) + b"\n")
PY
    mv -f -- "$lines_corpus.tmp.$$" "$lines_corpus"
  fi
  lines_tokens=$(wc -w <"$lines_corpus" | tr -d ' ')
  [[ $lines_tokens -eq $tokens ]] ||
    die "$lines_corpus has $lines_tokens words, the corpus $tokens: delete it and rerun"
fi

# --- helpers --------------------------------------------------------------------

# json_get FILE KEY...: from the last line of FILE that is a JSON object, prints the
# values of KEYs separated by tabs ("-" for a missing or null value). The key @queen
# is queen's 1-based rank in the object's "results" list of {word, score}.
json_get() {
  "$PY" - "$@" <<'PY'
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
obj = None
with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                pass
if obj is None:
    sys.exit("no JSON line in " + path)
out = []
for key in keys:
    if key == "@queen":
        words = [r.get("word") for r in obj.get("results") or []]
        value = words.index("queen") + 1 if "queen" in words else None
    else:
        value = obj.get(key)
    out.append("-" if value is None else str(value))
print("\t".join(out))
PY
}

# timed PREFIX CMD...: runs CMD with its stdout in PREFIX.out and stderr in PREFIX.err,
# sets `wall` (seconds) and `rss` (peak KiB); returns CMD's status.
timed() {
  local prefix=$1
  shift
  local status=0
  /usr/bin/time -f '%e %M' -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" || status=$?
  # On failure time(1) writes "Command exited with non-zero status N" before the numbers.
  read -r wall rss < <(tail -n 1 "$prefix.time")
  return "$status"
}

# fail_note PREFIX WHAT: prints why a step failed (the end of its stderr, else stdout).
fail_note() {
  local from="$1.err"
  [[ -s $from ]] || from="$1.out"
  log "$2 failed; the end of its output:"
  tail -n 5 -- "$from" 2>/dev/null | sed 's/^/    /' >&2 || true
}

printf 'tool\tmodel\tepochs\trun\tstatus\twords_per_s\twall_s\tpeak_kib\tvocab\tacc_gensim\tcorrect_gensim\ttotal_gensim\tacc_own\tcorrect_own\ttotal_own\tqueen_rank\tqueen_rank_gensim\tself_words\tself_words_per_s\n' >"$rows"

# row TOOL MODEL RUN STATUS [fields...]: appends one run's row.
row() {
  local IFS=$'\t'
  echo "$*" >>"$rows"
}

any_failed=0

# Every run sets these, "-" when not known.
reset_fields() {
  wall=- rss=- wps=- vocab=- acc_g=- cor_g=- tot_g=- acc_o=- cor_o=- tot_o=- rank=- rank_g=- self_w=- self_wps=-
}

percent() {  # a fraction 0..1 as a percentage, or "-"
  awk -v f="$1" 'BEGIN { if (f == "-") print "-"; else printf "%.2f%%", 100 * f }'
}

words_per_s() {  # from the globals tokens, epochs, wall
  awk -v n="$tokens" -v e="$epochs" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", n * e / w; else print "-" }'
}

# gensim_score PREFIX VECTORS: scores VECTORS with gensim's evaluator into acc_g, cor_g,
# tot_g, rank_g.
gensim_score() {
  if "$PY" "$root/bench/gensim_eval.py" "$2" "$questions" --restrict "$RESTRICT" >"$1.eval.out" 2>"$1.eval.err"; then
    IFS=$'\t' read -r acc_g cor_g tot_g rank_g < <(json_get "$1.eval.out" accuracy correct total king_queen_rank)
  else
    fail_note "$1.eval" "gensim_eval.py on $2"
    return 1
  fi
}

run_deepdist() {  # MODEL ALPHA RUN
  local model=$1 alpha=$2 run=$3 p="$work/deepdist-$1-$3"
  local vec="$p.bin" ok=1
  if ! timed "$p" "$deepdist" word2vec train --input "$corpus" --output "$vec" --model "$model" \
    --dim "$DIM" --window "$WINDOW" "${deepdist_loss[@]}" --sample "$SAMPLE" \
    --min-count "$MIN_COUNT" --alpha "$alpha" --epochs "$epochs" --threads "$threads" \
    $deepdist_args --json; then
    fail_note "$p" "deepdist word2vec train"
    return 1
  fi
  wps=$(words_per_s)
  IFS=$'\t' read -r self_w self_wps vocab < <(json_get "$p.out" words words_per_second vocab_size) || ok=0
  if "$deepdist" word2vec analogy --vectors "$vec" --questions "$questions" --restrict "$RESTRICT" --json \
    >"$p.analogy.out" 2>"$p.analogy.err"; then
    IFS=$'\t' read -r acc_o cor_o tot_o < <(json_get "$p.analogy.out" accuracy correct total) || ok=0
  else
    fail_note "$p.analogy" "deepdist word2vec analogy"
    ok=0
  fi
  if "$deepdist" word2vec query --vectors "$vec" --positive king,woman --negative man --topn 10 --json \
    >"$p.query.out" 2>"$p.query.err"; then
    rank=$(json_get "$p.query.out" @queen) || ok=0
  else
    fail_note "$p.query" "deepdist word2vec query"
    ok=0
  fi
  gensim_score "$p" "$vec" || ok=0
  rm -f -- "$vec"
  [[ $ok -eq 1 ]] || return 2
}

run_gensim() {  # MODEL ALPHA RUN
  local model=$1 alpha=$2 run=$3 p="$work/gensim-$1-$3"
  local vec="$p.bin" sg=1 ok=1
  [[ $model == sg ]] || sg=0
  # One BLAS thread: gensim's own worker threads are the --threads cores it may use.
  if ! OPENBLAS_NUM_THREADS=1 timed "$p" "$PY" "$root/bench/gensim_train.py" --corpus-file "$lines_corpus" \
    --output "$vec" --sg "$sg" --dim "$DIM" --window "$WINDOW" "${gensim_loss[@]}" \
    --sample "$SAMPLE" --min-count "$MIN_COUNT" --alpha "$alpha" --epochs "$epochs" --threads "$threads"; then
    fail_note "$p" "gensim_train.py"
    return 1
  fi
  wps=$(words_per_s)
  IFS=$'\t' read -r self_w self_wps vocab < <(json_get "$p.out" words words_per_second vocab_size) || ok=0
  gensim_score "$p" "$vec" || ok=0
  rank=$rank_g
  rm -f -- "$vec"
  [[ $ok -eq 1 ]] || return 2
}

run_fasttext() {  # MODEL ALPHA RUN
  local model=$1 alpha=$2 run=$3 p="$work/fasttext-$1-$3"
  local command=skipgram ok=1
  [[ $model == sg ]] || command=cbow
  if ! timed "$p" fasttext "$command" -input "$corpus" -output "$p" -dim "$DIM" -ws "$WINDOW" \
    "${fasttext_loss[@]}" -t "$SAMPLE" -minCount "$MIN_COUNT" -lr "$alpha" -epoch "$epochs" \
    -thread "$threads" -minn 0 -maxn 0 -verbose 0; then
    fail_note "$p" "fasttext $command"
    return 1
  fi
  wps=$(words_per_s)
  # The .vec header is "count dim"; the count may include the end-of-line token </s>.
  vocab=$(head -n 1 "$p.vec" | cut -d' ' -f1)
  gensim_score "$p" "$p.vec" || ok=0
  rank=$rank_g
  rm -f -- "$p.vec" "$p.bin"
  [[ $ok -eq 1 ]] || return 2
}

# --- the runs -------------------------------------------------------------------
log "corpus $corpus: $tokens tokens; tools: ${tools[*]}; models: ${model_list[*]}; epochs $epochs; runs $runs; threads $threads"
for model in "${model_list[@]}"; do
  alpha=0.025
  [[ $model == sg ]] || alpha=0.05
  for ((run = 1; run <= runs; run++)); do
    for tool in "${tools[@]}"; do
      reset_fields
      log "[$model run $run/$runs] $tool ..."
      # run_TOOL returns 1 when training failed, 2 when only a later step (scoring) did.
      rc=0
      "run_$tool" "$model" "$alpha" "$run" || rc=$?
      case $rc in
        0) status=ok ;;
        2) status=incomplete ;;
        *) status=failed ;;
      esac
      [[ $status == ok ]] || any_failed=1
      row "$tool" "$model" "$epochs" "$run" "$status" "$wps" "$wall" "$rss" "$vocab" \
        "$acc_g" "$cor_g" "$tot_g" "$acc_o" "$cor_o" "$tot_o" "$rank" "$rank_g" "$self_w" "$self_wps"
      log "[$model run $run/$runs] $tool: $status, ${wall}s wall, $wps words/s, peak $rss KiB, analogy $(percent "$acc_g") (gensim eval), $(percent "$acc_o") (own eval), queen rank $rank"
    done
  done
done

# --- the report -----------------------------------------------------------------
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "no commit")
gensim_version=$("$PY" -c 'import gensim; print(gensim.__version__)' 2>/dev/null || echo unknown)
fasttext_version=$(dpkg-query -W -f='${Version}' fasttext 2>/dev/null || echo unknown)
corpus_source=
if [[ $corpus == "$root/data/corpus.txt" || $corpus == "$root/data/small.txt" ]] && [[ -f "$root/data/corpus.source" ]]; then
  corpus_source=" (from $(cat "$root/data/corpus.source"))"
fi

check_status=0
REPORT_DATE=$(date '+%Y-%m-%d %H:%M %Z') \
REPORT_MACHINE="${cpu:-unknown CPU}, nproc $(nproc)" \
REPORT_CORPUS="${corpus#"$root"/}$corpus_source, $tokens tokens" \
REPORT_QUESTIONS="${questions#"$root"/}" \
REPORT_SETTINGS="dim $DIM, window $WINDOW, $([[ $loss == ns ]] && echo "negative $NEGATIVE" || echo "hierarchical softmax (no negatives)"), sample $SAMPLE, min-count $MIN_COUNT, alpha 0.025 (sg) / 0.05 (cbow), threads $threads, epochs $epochs, runs $runs, analogy over the $RESTRICT most frequent words" \
REPORT_VERSIONS="deepdist $commit${deepdist_args:+ ($deepdist_args)}, gensim $gensim_version, fastText $fasttext_version" \
  "$PY" - "$rows" >"$report" <<'PY' || check_status=$?
import csv, os, statistics, sys

with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))

def num(v):
    return None if v in (None, "", "-") else float(v)

def fmt(v, spec, suffix=""):
    return "–" if v is None else format(v, spec) + suffix

def pct(v):
    return fmt(None if v is None else 100 * v, ".2f")

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

env = os.environ
print("# deepdist peers benchmark\n")
print(f"- date: {env['REPORT_DATE']}")
print(f"- machine: {env['REPORT_MACHINE']}")
print(f"- corpus: {env['REPORT_CORPUS']}; questions: {env['REPORT_QUESTIONS']}")
print(f"- settings: {env['REPORT_SETTINGS']}")
print(f"- versions: {env['REPORT_VERSIONS']}")
print("- words/s: corpus tokens × epochs / wall seconds of the whole process; analogy: % correct, "
      "scored by gensim's evaluator (deepdist's own evaluator beside it)")
print()
print("## Runs\n")
print("| tool | model | epochs | run | words/s | wall s | peak MiB | vocab | analogy % | analogy % (deepdist eval) | questions | queen rank |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["status"] == "failed":
        print(f"| {r['tool']} | {r['model']} | {r['epochs']} | {r['run']} | failed | {fmt(num(r['wall_s']), '.1f')} | | | | | | |")
        continue
    rss = num(r["peak_kib"])
    tool = r["tool"] if r["status"] == "ok" else f"{r['tool']} ({r['status']})"
    print(f"| {tool} | {r['model']} | {r['epochs']} | {r['run']} "
          f"| {fmt(num(r['words_per_s']), ',.0f')} | {fmt(num(r['wall_s']), '.1f')} "
          f"| {fmt(None if rss is None else rss / 1024, ',.0f')} | {r['vocab'] if r['vocab'] != '-' else '–'} "
          f"| {pct(num(r['acc_gensim']))} | {pct(num(r['acc_own']))} "
          f"| {r['total_gensim'] if r['total_gensim'] != '-' else '–'} "
          f"| {r['queen_rank'] if r['queen_rank'] != '-' else '–'} |")

# Medians over the runs of each tool and model whose training succeeded.
groups = {}
for r in rows:
    if r["status"] != "failed":
        groups.setdefault((r["model"], r["tool"]), []).append(r)
med = {}
for key, rs in groups.items():
    med[key] = {
        "wps": median(num(r["words_per_s"]) for r in rs),
        "wall": median(num(r["wall_s"]) for r in rs),
        "mib": median(None if num(r["peak_kib"]) is None else num(r["peak_kib"]) / 1024 for r in rs),
        "acc": median(num(r["acc_gensim"]) for r in rs),
        "rank": median(num(r["queen_rank"]) for r in rs),
        "n": len(rs),
    }
models = [m for m in ("sg", "cbow") if any(k[0] == m for k in med)]
tools = [t for t in ("deepdist", "gensim", "fasttext") if any(k[1] == t for k in med)]

if med:
    print("\n## Medians\n")
    print("| tool | model | runs | words/s | wall s | peak MiB | analogy % | queen rank |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
for m in models:
    for t in tools:
        s = med.get((m, t))
        if s:
            print(f"| {t} | {m} | {s['n']} | {fmt(s['wps'], ',.0f')} | {fmt(s['wall'], '.1f')} "
                  f"| {fmt(s['mib'], ',.0f')} | {pct(s['acc'])} | {fmt(s['rank'], 'g')} |")

ratios = []
for m in models:
    ours = med.get((m, "deepdist"))
    for peer in ("gensim", "fasttext"):
        theirs = med.get((m, peer))
        if not ours or not theirs:
            continue
        def ratio(a, b):
            return None if a is None or not b else a / b
        diff = None if ours["acc"] is None or theirs["acc"] is None else 100 * (ours["acc"] - theirs["acc"])
        ratios.append(f"| {m} | {peer} | {fmt(ratio(ours['wps'], theirs['wps']), '.2f', '×')} "
                      f"| {fmt(diff, '+.2f')} | {fmt(ratio(ours['mib'], theirs['mib']), '.2f', '×')} |")
if ratios:
    print("\n## deepdist against its peers (medians)\n")
    print("| model | peer | words/s deepdist/peer | analogy deepdist − peer (points) | peak memory deepdist/peer |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(ratios))

# deepdist's evaluator must agree with gensim's within 0.1 point on the same vectors.
checks = []
failed = False
for r in rows:
    if r["tool"] != "deepdist" or r["status"] == "failed":
        continue
    own, ref = num(r["acc_own"]), num(r["acc_gensim"])
    if own is None or ref is None:
        checks.append(f"- {r['model']} run {r['run']}: FAIL, missing accuracy (deepdist eval {pct(own)}, gensim eval {pct(ref)})")
        failed = True
        continue
    diff = abs(own - ref) * 100
    ok = diff <= 0.1 + 1e-9
    failed |= not ok
    note = ""
    if r["total_own"] != r["total_gensim"]:
        note = f"; questions counted differ: {r['total_own']} vs {r['total_gensim']}"
    checks.append(f"- {r['model']} run {r['run']}: {'OK' if ok else 'FAIL'}: deepdist eval {pct(own)}% "
                  f"({r['correct_own']}/{r['total_own']}), gensim eval {pct(ref)}% "
                  f"({r['correct_gensim']}/{r['total_gensim']}), |Δ| = {diff:.2f} point{note}")
if checks:
    print("\n## Check: deepdist's evaluator vs gensim's evaluator (within 0.1 point)\n")
    print("\n".join(checks))
sys.exit(1 if failed else 0)
PY

cat "$report"
log "report saved to $report (raw rows: $rows)"
if [[ $any_failed -ne 0 ]]; then
  log "some runs failed (marked 'failed' or 'incomplete' above)"
  exit 1
fi
if [[ $check_status -ne 0 ]]; then
  log "deepdist's evaluator disagrees with gensim's (see the check above)"
  exit 1
fi
