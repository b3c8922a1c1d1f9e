#!/usr/bin/env bash
# The fault-injection benchmark: an uninterrupted word2vec run beside one that is
# stopped again and again (SIGKILL at random moments, and one SIGTERM) and resumed
# from its checkpoint each time, until a start finishes; the two runs' analogy
# accuracy must agree within 1 point (or, with --bit-identical, the two vectors
# files must be the same bytes).
#
# Usage:
#   bench/faults.sh [--input PATH] [--questions PATH] [--epochs E] [--threads T]
#                   [--kills N] [--every S] [--kill-after "LO HI"] [--seed SEED]
#                   [--bit-identical] [--deepdist PATH] [--keep]
#
# Defaults: data/corpus.txt (scripts/get-data.sh puts the first 10^8 bytes of
# ../shared/data/enwiki-clean-1e8.txt.gz there), data/questions-words.txt, 1 epoch,
# 2 threads, 5 kills, a checkpoint every 1 s (--every), faults 0.5 .. 1 + 3 x --every
# seconds after a start (--kill-after), seed 1, build/deepdist. Every other training
# flag at its default (the standard settings: dim 100, window 5, negative 5, sample
# 1e-4, min-count 5). The uninterrupted run takes about 7 s on 2 cores, hence
# checkpoints every second and faults within a few: a resumed start reaches its
# first checkpoint after about 1.5 s, so the run needs several starts.
#   --bit-identical  the first 10^7 bytes of --input, --threads 1, 10 epochs and a
#                    checkpoint every 0.5 s by default: the faulted run's vectors must
#                    be byte-identical (cmp) to the uninterrupted run's.
#   --keep           keep the work folder under /tmp (its path is printed).
#
# The faulted run: every start is the same command,
#   deepdist word2vec train --input I --output O --epochs E --threads T --questions Q
#     --json --quiet --resume DIR --checkpoint-every S
# (the first finds no checkpoint in DIR and starts fresh). The first N + 1 starts each
# get a fault at a delay drawn uniformly from the --kill-after range (Python's
# random.Random(SEED), so a seed gives the same schedule): N of them SIGKILL and one,
# at a position drawn among the first N, SIGTERM (at 0.5 s or later: before that the
# handlers may not be installed yet). A start that finishes before its fault ends the
# faults; later starts run to the end.
#
# Checked, each failure named in the report (exit 1 if any):
#   after every stop: exit 137 (SIGKILL) or 143 (SIGTERM); the output not written,
#     unless the stop came after training (the vectors are written, then evaluated):
#     then it loads (and with --bit-identical, it is the uninterrupted run's bytes);
#     DIR holds checkpoint.ddc whole (its CRC-32 and section lengths, read here
#     independently of deepdist) and not behind the one before, and no other file
#     but temporary files checkpoint.ddc.tmp.* (noted with the stop that left them);
#   the SIGTERM: one "interrupted by SIGTERM" line naming the checkpoint, which this
#     start wrote;
#   at the end: the last start exits 0 and says it resumed; DIR holds checkpoint.ddc
#     and nothing else (a temporary file a killed save left behind fails here); the
#     vectors load (deepdist word2vec analogy) and score what the trainer said; the
#     accuracy is within 1 point of the uninterrupted run's (--bit-identical: the
#     files are the same bytes).
# Output: a markdown table on stdout (also saved under data/bench/); the per-start
# log on stderr. "seconds" is the sum of the starts' wall times.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "faults.sh: $*" >&2
  exit 1
}

input=
questions=
epochs=
threads=
kills=5
every=
kill_after=
seed=1
bit_identical=0
deepdist="$root/build/deepdist"
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --input) input=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --kill-after) kill_after=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --bit-identical) bit_identical=1; shift ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
readonly number='^[0-9]+([.][0-9]+)?$'
if (( bit_identical )); then
  [[ -z "$threads" || "$threads" == 1 ]] || die "--bit-identical trains with --threads 1"
  threads=1
  epochs=${epochs:-10}
  every=${every:-0.5}
else
  threads=${threads:-2}
  epochs=${epochs:-1}
  every=${every:-1}
fi
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || die "--epochs: a positive whole number, not $epochs"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads: a positive whole number, not $threads"
[[ "$kills" =~ ^[0-9]+$ ]] || die "--kills: a whole number, not $kills"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed: a whole number, not $seed"
[[ "$every" =~ $number ]] || die "--every: seconds, not $every"
if [[ -n "$kill_after" ]]; then
  read -r kill_lo kill_hi <<<"$kill_after"
  if ! [[ "$kill_lo" =~ $number && "${kill_hi:-}" =~ $number ]] ||
    ! /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' \
      "$kill_lo" "$kill_hi"; then
    die "--kill-after: \"LO HI\" in seconds, LO < HI, not \"$kill_after\""
  fi
fi
if [[ -z "$input" || -z "$questions" ]]; then
  "$root/scripts/get-data.sh" >&2
  input=${input:-$root/data/corpus.txt}
  questions=${questions:-$root/data/questions-words.txt}
fi
[[ -f "$input" ]] || die "$input: no such file"
[[ -f "$questions" ]] || die "$questions: no such file"
[[ -x "$deepdist" ]] || die "$deepdist: not built"
command -v timeout >/dev/null || die "timeout: not found (coreutils)"

work=$(mktemp -d /tmp/deepdist-faults.XXXXXX)
if (( keep )); then
  trap 'echo "faults.sh: work folder kept: $work" >&2' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$root/data/bench"
report="$root/data/bench/faults$( (( bit_identical )) && echo -bit-identical)-$(date +%Y-%m-%d-%H%M).md"
readonly work report

if (( bit_identical )); then
  # The first 10^7 bytes (data/small.txt of the default corpus).
  if [[ "$input" == *.gz ]]; then
    { zcat -- "$input" 2>/dev/null || true; } | head -c 10000000 >"$work/prefix.txt"
  else
    head -c 10000000 -- "$input" >"$work/prefix.txt"
  fi
  corpus="$work/prefix.txt"
else
  corpus=$input
fi

# Reads the JSON summary line on stdin; prints the fields named, "-" for one missing.
json_fields() { /usr/bin/python3 "$root/bench/faults_check.py" json "$@"; }

# Checks the checkpoint in a folder as deepdist's loader would, without deepdist
# (bench/faults_check.py). Prints "WORDS MTIME" (the words trained when it was taken,
# its mtime in seconds since the epoch), or one line of why it is not whole, with exit 1.
check_checkpoint() {
  local checked
  checked=$(/usr/bin/python3 "$root/bench/faults_check.py" checkpoint "$1") || {
    echo "$checked"
    return 1
  }
  cut -d' ' -f3,4 <<<"$checked"
}

train_args=(word2vec train --input "$corpus" --epochs "$epochs" --threads "$threads"
  --questions "$questions" --json --quiet)

# --- the uninterrupted run ---------------------------------------------------------
echo "faults.sh: uninterrupted run ($epochs epoch(s), $threads thread(s))" >&2
t0=$EPOCHREALTIME
nice -n 5 "$deepdist" "${train_args[@]}" --output "$work/reference.bin" >"$work/reference.json" \
  2>"$work/reference.err" || { cat "$work/reference.err" >&2; die "the uninterrupted run failed"; }
ref_seconds=$(/usr/bin/python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' \
  "$t0" "$EPOCHREALTIME")
read -r ref_words < <(json_fields words <"$work/reference.json")
ref_acc=$("$deepdist" word2vec analogy --vectors "$work/reference.bin" --questions "$questions" --json |
  json_fields accuracy)
if [[ -z "$kill_after" ]]; then
  # Long enough for a resumed start to reach a checkpoint or two, short enough that
  # the run takes several starts.
  kill_lo=0.5
  kill_hi=$(/usr/bin/python3 -c 'import sys; print("%g" % (1 + 3 * float(sys.argv[1])))' "$every")
fi
echo "faults.sh: uninterrupted: $ref_seconds s, $ref_words words; faults at $kill_lo .. $kill_hi s after a start" >&2

# --- the faulted run ---------------------------------------------------------------
# The schedule: one "SIGNAL DELAY" line per fault.
/usr/bin/python3 - "$seed" "$kills" "$kill_lo" "$kill_hi" >"$work/schedule" <<'EOF'
import random, sys
seed, kills, lo, hi = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rng = random.Random(seed)
term_at = rng.randrange(max(kills, 1))  # Among the first N faults: at least one kill follows.
for i in range(kills + 1):
    delay = rng.uniform(lo, hi)
    if i == term_at:
        print("TERM %.3f" % max(delay, 0.5))
    else:
        print("KILL %.3f" % delay)
EOF
mapfile -t schedule <"$work/schedule"

dir="$work/checkpoints"
out="$work/faulted.bin"
problems=()
problem() {
  problems+=("$*")
  echo "faults.sh: PROBLEM: $*" >&2
}
declare -A temp_origin=()  # Temporary file in DIR -> the stop that left it.
n_kills=0 n_terms=0 starts=0 faulted_seconds=0 last_words=-1 last_mtime='' finished=0 fault=0
max_starts=$(( kills + 1 + 20 ))
while (( starts < max_starts )); do
  starts=$(( starts + 1 ))
  sig='' delay=''
  if (( fault < ${#schedule[@]} )); then
    read -r sig delay <<<"${schedule[$fault]}"
    fault=$(( fault + 1 ))
  fi
  t0=$EPOCHREALTIME
  rc=0
  if [[ -n "$sig" ]]; then
    timeout --foreground --preserve-status -s "$sig" "$delay" nice -n 5 "$deepdist" \
      "${train_args[@]}" --output "$out" --resume "$dir" --checkpoint-every "$every" \
      >"$work/start-$starts.json" 2>"$work/start-$starts.err" || rc=$?
  else
    nice -n 5 "$deepdist" "${train_args[@]}" --output "$out" --resume "$dir" \
      --checkpoint-every "$every" >"$work/start-$starts.json" 2>"$work/start-$starts.err" || rc=$?
  fi
  t1=$EPOCHREALTIME
  elapsed=$(/usr/bin/python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1")
  faulted_seconds=$(/usr/bin/python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' \
    "$faulted_seconds" "$elapsed")
  what="start $starts (${sig:+SIG$sig at $delay s, }ran $elapsed s): exit $rc"

  if (( rc == 0 )); then
    echo "faults.sh: $what, finished" >&2
    if [[ "$sig" == TERM ]] &&
      /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]) + 0.05)' \
        "$elapsed" "$delay"; then
      problem "$what: SIGTERM at $delay s did not stop it (exit 0 at $elapsed s, output written): the signal came after training and was ignored"
    fi
    finished=1
    break
  fi
  expected=$([[ "$sig" == KILL ]] && echo 137 || echo 143)
  if [[ -z "$sig" || "$rc" != "$expected" ]]; then
    problem "$what${sig:+, not $expected}: $(tail -n 1 "$work/start-$starts.err")"
    break
  fi
  if [[ "$sig" == KILL ]]; then n_kills=$(( n_kills + 1 )); else n_terms=$(( n_terms + 1 )); fi
  written=''
  if [[ -e "$out" ]]; then
    # Written before the stop: deepdist writes the vectors when training ends, then
    # evaluates them, so a stop during the evaluation leaves them. They must be whole
    # (and in --bit-identical, the uninterrupted run's bytes); moved aside, as the
    # next start trains the rest again from the checkpoint and writes its own.
    mv -f -- "$out" "$work/written-by-start-$starts.bin"
    if ! "$deepdist" word2vec analogy --vectors "$work/written-by-start-$starts.bin" \
      --questions "$questions" --json >/dev/null 2>"$work/analogy.err"; then
      problem "$what: the output was written by a stopped start and does not load: $(tail -n 1 "$work/analogy.err")"
    elif (( bit_identical )) && ! cmp -s "$work/reference.bin" "$work/written-by-start-$starts.bin"; then
      problem "$what: the output was written by a stopped start and differs from the uninterrupted run's"
    else
      written="; the output was written whole before the $sig (it came after training)"
    fi
  fi
  for f in "$out".tmp.*; do
    [[ -e "$f" && -z "${temp_origin[$f]:-}" ]] && temp_origin[$f]="start $starts's SIG$sig at $delay s"
  done
  note=
  words=-1 mtime=''
  if [[ -f "$dir/checkpoint.ddc" ]]; then
    if checked=$(check_checkpoint "$dir"); then
      read -r words mtime <<<"$checked"
      note="checkpoint at $words words ($(( 100 * words / ref_words ))%)"
      (( words >= last_words )) ||
        problem "$what: the checkpoint went back from $last_words to $words words"
      last_words=$words
    else
      problem "$what: $checked"
    fi
  else
    note="no checkpoint yet"
    (( last_words < 0 )) || problem "$what: $dir/checkpoint.ddc is gone (it held $last_words words)"
  fi
  if [[ -d "$dir" ]]; then
    for f in "$dir"/* "$dir"/.[!.]*; do
      [[ -e "$f" ]] || continue
      name=${f##*/}
      case "$name" in
        checkpoint.ddc) ;;
        checkpoint.ddc.tmp.*)
          if [[ -z "${temp_origin[$f]:-}" ]]; then
            temp_origin[$f]="start $starts's SIG$sig at $delay s, during a save"
            note+="; $name left ($(stat -c %s -- "$f") bytes: the $sig came during a save)"
          fi ;;
        *) problem "$what: an unexpected file in the checkpoint folder: $name" ;;
      esac
    done
  fi
  if [[ "$sig" == TERM ]]; then
    line=$(grep 'interrupted by SIGTERM' "$work/start-$starts.err" || true)
    if [[ "$line" != *"checkpoint in $dir/checkpoint.ddc"* ]]; then
      problem "$what: no \"interrupted by SIGTERM ... checkpoint in $dir/checkpoint.ddc\" line (stderr: $(tail -n 1 "$work/start-$starts.err"))"
    elif [[ -z "$mtime" || "$mtime" == "$last_mtime" ]]; then
      problem "$what: the checkpoint is not the SIGTERM's final one (the previous stop's is still there)"
    fi
  fi
  last_mtime=$mtime
  echo "faults.sh: $what; $note$written" >&2
done

faulted_acc=-
if (( finished )); then
  read -r train_acc resumed resumed_words < <(json_fields accuracy resumed resumed_words \
    <"$work/start-$starts.json")
  echo "faults.sh: the last start resumed: $resumed ($resumed_words words)" >&2
  if (( last_words >= 0 )) && [[ "$resumed" != true ]]; then
    problem "the last start did not resume from the checkpoint of $last_words words"
  fi
  leftover=$(find "$dir" -mindepth 1 ! -name checkpoint.ddc -printf '%f ' 2>/dev/null || true)
  if [[ -n "$leftover" ]]; then
    for f in $leftover; do
      problem "$f ($(stat -c %s -- "$dir/$f") bytes) left in the checkpoint folder by ${temp_origin[$dir/$f]:-an unknown stop}, still there at the end: no later start removed it"
    done
  fi
  for f in "$out".tmp.*; do
    [[ -e "$f" ]] && problem "${f##*/} left beside the output by ${temp_origin[$f]:-an unknown stop}, still there at the end"
  done
  if faulted_acc=$("$deepdist" word2vec analogy --vectors "$out" --questions "$questions" --json \
    2>"$work/analogy.err" | json_fields accuracy); then
    /usr/bin/python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1e-9)' \
      "$faulted_acc" "$train_acc" ||
      problem "the written vectors score $faulted_acc, the trainer said $train_acc"
  else
    problem "the final vectors do not load: $(tail -n 1 "$work/analogy.err")"
    faulted_acc=-
  fi
else
  problem "no start finished in $starts starts"
fi
notes=()
(( n_kills == kills )) || notes+=("$n_kills of $kills kills: the run finished before the rest came")
(( n_terms == 1 )) || notes+=("no SIGTERM stop: the run finished before its turn came")

identical=-
if (( bit_identical )) && [[ -f "$out" ]]; then
  if cmp -s "$work/reference.bin" "$out"; then
    identical=identical
  else
    identical=differ
    problem "the vectors differ from the uninterrupted run's ($(cmp "$work/reference.bin" "$out" 2>&1 | head -n 1))"
  fi
fi
if [[ "$faulted_acc" != - ]] &&
  ! /usr/bin/python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.01)' \
    "$faulted_acc" "$ref_acc"; then
  problem "accuracy $faulted_acc is more than 1 point from the uninterrupted run's $ref_acc"
fi

{
  echo "# deepdist fault-injection benchmark$( (( bit_identical )) && echo ", bit-identical"), $(date +%Y-%m-%d)"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores. Binary: $deepdist (built $(date -r "$deepdist" '+%Y-%m-%d %H:%M')); repository at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Corpus: $input$( (( bit_identical )) && echo ", its first 10^7 bytes") ($(wc -c <"$corpus") bytes), $epochs epoch(s), $threads thread(s)."
  echo "Faults: $kills SIGKILL and 1 SIGTERM at $kill_lo .. $kill_hi s after a start, seed $seed; a checkpoint every $every s."
  echo
  /usr/bin/python3 - "$bit_identical" "$ref_seconds" "$ref_acc" "$n_kills" "$n_terms" "$starts" \
    "$faulted_seconds" "$faulted_acc" "$identical" <<'EOF'
import sys
bit, ref_s, ref_acc, kills, terms, starts, f_s, f_acc, same = sys.argv[1:]
pct = lambda a: "-" if a == "-" else "%.2f" % (100 * float(a))
diff = "-" if f_acc == "-" else "%+.2f" % (100 * (float(f_acc) - float(ref_acc)))
head = "| run | kills | SIGTERMs | starts | seconds | analogy % | vs uninterrupted (points) |"
rule = "|---|---|---|---|---|---|---|"
if bit == "1":
    head += " vectors |"
    rule += "---|"
print(head)
print(rule)
rows = [("uninterrupted", "0", "0", "1", float(ref_s), pct(ref_acc), "-", "-"),
        ("faulted", kills, terms, starts, float(f_s), pct(f_acc), diff, same)]
for name, k, t, s, sec, acc, d, v in rows:
    line = f"| {name} | {k} | {t} | {s} | {sec:.1f} | {acc} | {d} |"
    print(line + (f" {v} |" if bit == "1" else ""))
EOF
  echo
  if (( ${#problems[@]} == 0 )); then
    echo "Result: PASS (every stop left a whole checkpoint, no temporary file and no partial output; $( (( bit_identical )) && echo "the vectors are byte-identical" || echo "accuracy within 1 point"))."
  else
    echo "Result: FAIL"
    for p in "${problems[@]}"; do echo "- $p"; done
  fi
  for n in "${notes[@]}"; do echo "Note: $n."; done
} | tee "$report"
echo "faults.sh: report in $report" >&2
(( ${#problems[@]} == 0 ))
