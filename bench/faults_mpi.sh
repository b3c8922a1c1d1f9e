#!/usr/bin/env bash
# The fault-injection benchmark under mpirun: an uninterrupted distributed word2vec
# run beside one whose starts are stopped again and again by a fault to ONE rank
# process (SIGKILL at random moments, and one SIGTERM) and resumed from the
# checkpoint each time on another number of ranks, until a start finishes; the two
# runs' analogy accuracy must agree within 1 point, and they must train the same
# number of words. The MPI twin of bench/faults.sh.
#
# Usage:
#   bench/faults_mpi.sh [--input PATH] [--questions PATH] [--epochs E] [--kills N]
#                       [--every S] [--kill-after "LO HI"] [--ranks "2 3 1 4 2"]
#                       [--seed SEED] [--deepdist PATH] [--keep]
#
# Defaults: data/corpus.txt (scripts/get-data.sh puts the first 10^8 bytes of
# ../shared/data/enwiki-clean-1e8.txt.gz there), data/questions-words.txt, 1 epoch,
# 4 faults, a checkpoint every 1 s (--every), faults 2 .. 6 + 3 x --every seconds
# after a start (--kill-after), the rank counts "2 3 1 4 2", seed 1, build/deepdist.
# One thread per rank on every start (only the number of ranks changes), every other
# training flag at its default (dim 100, window 5, negative 5, sample 1e-4,
# min-count 5). On 2 cores the uninterrupted run takes 10 to 15 s on 2 ranks; a
# start reaches its first checkpoint about 4 s after the launch when fresh, 5 to 7 s
# when resumed (9 s on 4 ranks), hence faults over several seconds: some during the
# start-up, some during training and saves.
#   --ranks "A B ..."  the number of ranks of each start, in turn, cycling; 1 is an
#                      embedded run (no mpirun), N > 1 is mpirun -np N --oversubscribe.
#                      The uninterrupted run uses the first.
#   --keep             keep the work folder under /tmp (its path is printed).
#
# The faulted run: every start is the same command but for the number of ranks,
#   [mpirun -np R --oversubscribe] deepdist word2vec train --input I --output O
#     --epochs E --threads 1 --questions Q --json --quiet --resume DIR
#     --checkpoint-every S
# under timeout 600 (a hang fails the benchmark instead of stalling it); the first
# finds no checkpoint in DIR and starts fresh. The first N starts each get a fault at
# a delay drawn uniformly from the --kill-after range (Python's random.Random(SEED),
# so a seed gives the same schedule, the rank hit included): N - 1 of them SIGKILL
# and one, at a position drawn among the first N - 1 (a kill follows it), SIGTERM.
# The fault goes to one rank process, drawn among the children of mpirun (never to
# mpirun itself); on an embedded start, to the process. A start that finishes before
# its fault ends the faults; later starts run to the end.
#
# Checked, each failure named in the report (exit 1 if any):
#   after every stop: a non-zero exit (recorded; mpirun's own when a rank was
#     killed), within 10 s of the fault (the "to end" column: from the signal to the
#     launcher's exit), and no rank process left running; the output not written,
#     unless the stop came after training: then it loads; DIR/checkpoint.ddc whole
#     (its CRC-32 and section lengths, read here independently of deepdist) and, for
#     a distributed one (a "shards" section "R g"), each shard-<r>-of-<R>.<g>.ddc it
#     names there and whole; its progress (words trained, from a shard's training
#     state for a distributed one) not behind the one before; no other file in DIR
#     but temporary files (*.tmp.*) and shard files checkpoint.ddc does not name (a
#     save cut short before rank 0 committed it, or an earlier checkpoint's that the
#     stop kept rank 0 from removing): noted with the stop that left them, a later
#     start removes them; but a distributed checkpoint's shard files left beside an
#     embedded checkpoint.ddc that replaced it fail (nothing removes them when the
#     run ends embedded); a start still running 60 s after its fault is stopped;
#   the SIGTERM: one "interrupted by" line (by SIGTERM when the rank hit is rank 0
#     or the run is embedded, by a signal to another rank otherwise) naming
#     DIR/checkpoint.ddc, a checkpoint newer than the previous stop's;
#   at the end: the last start exits 0 and says it resumed (and its number of
#     ranks); DIR holds checkpoint.ddc, the shard files it names and nothing else
#     (a file a stop left behind that no later start removed fails here); the vectors
#     load (deepdist word2vec analogy) and score what the trainer said; the accuracy
#     is within 1 point of the uninterrupted run's; the words trained ("words" of the
#     --json summary, a resumed run counting its checkpoint's) equal the
#     uninterrupted run's: every word of every epoch trained once.
# Output: a markdown report on stdout (also saved under data/bench/): the two runs,
# then one row per start; the per-start log on stderr. "seconds" of the faulted run
# is the sum of its starts' wall times.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "faults_mpi.sh: $*" >&2
  exit 1
}

input=
questions=
epochs=1
kills=4
every=1
kill_after=
ranks_list="2 3 1 4 2"
seed=1
deepdist="$root/build/deepdist"
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --input) input=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --kill-after) kill_after=$2; shift 2 ;;
    --ranks) ranks_list=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --deepdist) deepdist=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
readonly number='^[0-9]+([.][0-9]+)?$'
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || die "--epochs: a positive whole number, not $epochs"
[[ "$kills" =~ ^[0-9]+$ ]] || die "--kills: a whole number, not $kills"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed: a whole number, not $seed"
[[ "$every" =~ $number ]] || die "--every: seconds, not $every"
read -r -a ranks_cycle <<<"$ranks_list"
(( ${#ranks_cycle[@]} > 0 )) || die "--ranks: one rank count or more, not \"$ranks_list\""
for r in "${ranks_cycle[@]}"; do
  [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "--ranks: positive whole numbers, not \"$ranks_list\""
done
if [[ -n "$kill_after" ]]; then
  read -r kill_lo kill_hi <<<"$kill_after"
  if ! [[ "$kill_lo" =~ $number && "${kill_hi:-}" =~ $number ]] ||
    ! /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' \
      "$kill_lo" "$kill_hi"; then
    die "--kill-after: \"LO HI\" in seconds, LO < HI, not \"$kill_after\""
  fi
else
  # Long enough for a start to get past MPI's start-up and reach a checkpoint or two,
  # short enough that the run takes several starts.
  kill_lo=2
  kill_hi=$(/usr/bin/python3 -c 'import sys; print("%g" % (6 + 3 * float(sys.argv[1])))' "$every")
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
command -v pgrep >/dev/null || die "pgrep: not found (procps)"
command -v mpirun >/dev/null || die "mpirun: not found (scripts/install-deps.sh)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

readonly start_limit=600  # Seconds a start may run (timeout) before it counts as hung.
readonly end_bound=10     # Seconds from a fault to the launcher's exit, at most.
readonly hang_after=60    # Seconds after a fault at which a start still running is stopped.

work=$(mktemp -d /tmp/deepdist-faults-mpi.XXXXXX)
if (( keep )); then
  trap 'echo "faults_mpi.sh: work folder kept: $work" >&2' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$root/data/bench"
report="$root/data/bench/faults-mpi-$(date +%Y-%m-%d-%H%M).md"
readonly work report

# Microseconds since the epoch (EPOCHREALTIME without its separator, any locale).
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# Microseconds as seconds with 2 decimals.
seconds() { printf '%d.%02d' $(( $1 / 1000000 )) $(( $1 % 1000000 / 10000 )); }
# Seconds (a decimal) as microseconds.
to_us() { /usr/bin/python3 -c 'import sys; print(round(float(sys.argv[1]) * 1e6))' "$1"; }

# Reads the JSON summary line on stdin; prints the fields named, "-" for one missing.
json_fields() { /usr/bin/python3 "$root/bench/faults_check.py" json "$@"; }

# Checks the checkpoint in a folder as deepdist's loader would, without deepdist
# (bench/faults_check.py): prints "R G WORDS MTIME SPREAD", or one line of why it is
# not whole, with exit 1.
check_checkpoint() { /usr/bin/python3 "$root/bench/faults_check.py" checkpoint "$1"; }

# The rank processes of a start of $2 ranks whose timeout process is $1, as "RANK PID"
# lines: under mpirun the launcher's children that carry OMPI_COMM_WORLD_RANK;
# embedded, the process itself.
rank_pids() {
  local launcher child r
  launcher=$(pgrep -P "$1" | head -n 1) || return 0
  [[ -n "$launcher" ]] || return 0
  if (( $2 == 1 )); then
    echo "0 $launcher"
    return 0
  fi
  for child in $(pgrep -P "$launcher" || true); do
    r=$(tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p') || true
    if [[ -n "$r" ]]; then echo "$r $child"; fi
  done | sort -n
}

# Waits until process $1 (a child of this shell) has ended or it is $2 (microseconds
# since the epoch): exit 0 if it ended.
wait_until() {
  while kill -0 "$1" 2>/dev/null; do
    (( $(now_us) < $2 )) || return 1
    sleep 0.02
  done
}

# Whether process $1 still runs (and is no zombie).
running() {
  local state
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

train_args=(word2vec train --input "$input" --epochs "$epochs" --threads 1
  --questions "$questions" --json --quiet)
launcher() {  # The launcher of a start of $1 ranks.
  if (( $1 > 1 )); then echo "mpirun -np $1 --oversubscribe"; fi
}

# --- the uninterrupted run ---------------------------------------------------------
ref_ranks=${ranks_cycle[0]}
echo "faults_mpi.sh: uninterrupted run ($epochs epoch(s), $ref_ranks rank(s) x 1 thread)" >&2
read -r -a ref_launcher <<<"$(launcher "$ref_ranks")"
t0=$(now_us)
timeout "$start_limit" nice -n 5 "${ref_launcher[@]}" "$deepdist" "${train_args[@]}" \
  --output "$work/reference.bin" </dev/null >"$work/reference.json" 2>"$work/reference.err" ||
  { cat "$work/reference.err" >&2; die "the uninterrupted run failed"; }
ref_seconds=$(seconds $(( $(now_us) - t0 )))
read -r ref_words < <(json_fields words <"$work/reference.json")
[[ "$ref_words" =~ ^[0-9]+$ ]] || die "the uninterrupted run's summary has no words: $(tail -n 1 "$work/reference.json")"
ref_acc=$("$deepdist" word2vec analogy --vectors "$work/reference.bin" --questions "$questions" --json |
  json_fields accuracy)
echo "faults_mpi.sh: uninterrupted: $ref_seconds s, $ref_words words; faults at $kill_lo .. $kill_hi s after a start" >&2

# --- the faulted run ---------------------------------------------------------------
# The schedule: one "SIGNAL DELAY PICK" line per fault, PICK in [0, 1) choosing the
# rank hit among the start's.
/usr/bin/python3 - "$seed" "$kills" "$kill_lo" "$kill_hi" >"$work/schedule" <<'EOF'
import random, sys
seed, kills, lo, hi = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rng = random.Random(seed)
term_at = rng.randrange(max(kills - 1, 1))  # A kill follows the SIGTERM (N >= 2).
for i in range(kills):
    delay = rng.uniform(lo, hi)
    pick = rng.random()
    if i == term_at:
        # Not before 1.5 s: the ranks may not have their handlers yet.
        print("TERM %.3f %.6f" % (max(delay, 1.5), pick))
    else:
        print("KILL %.3f %.6f" % (delay, pick))
EOF
mapfile -t schedule <"$work/schedule"

dir="$work/checkpoints"
out="$work/faulted.bin"
problems=()
problem() {
  problems+=("$*")
  echo "faults_mpi.sh: PROBLEM: $*" >&2
}
rows=()                    # The per-start table's rows.
declare -A left_origin=()  # A file a stop left in DIR (or beside the output) -> that stop.
declare -A named_by=()     # A shard file -> the checkpoint that named it first.
n_kills=0 n_terms=0 starts=0 faulted_us=0 last_words=-1 last_mtime='' finished=0 fault=0
final_ranks=0
max_starts=$(( kills + 20 ))
while (( starts < max_starts )); do
  starts=$(( starts + 1 ))
  n=${ranks_cycle[$(( (starts - 1) % ${#ranks_cycle[@]} ))]}
  sig='' delay='' pick=''
  if (( fault < ${#schedule[@]} )); then
    read -r sig delay pick <<<"${schedule[$fault]}"
    fault=$(( fault + 1 ))
  fi
  read -r -a start_launcher <<<"$(launcher "$n")"
  rm -f -- "$out"
  t0=$(now_us)
  timeout "$start_limit" nice -n 5 "${start_launcher[@]}" "$deepdist" "${train_args[@]}" \
    --output "$out" --resume "$dir" --checkpoint-every "$every" \
    </dev/null >"$work/start-$starts.json" 2>"$work/start-$starts.err" &
  pid=$!
  rc=0 hit='' hit_pid='' t_fault='' to_end='-' victims=()
  if [[ -n "$sig" ]] && ! wait_until "$pid" $(( t0 + $(to_us "$delay") )); then
    # The fault: one rank, drawn by PICK among those running now.
    mapfile -t victims < <(rank_pids "$pid" "$n")
    if (( ${#victims[@]} > 0 )); then
      idx=$(/usr/bin/python3 -c 'import sys; print(int(float(sys.argv[1]) * int(sys.argv[2])))' \
        "$pick" "${#victims[@]}")
      read -r hit hit_pid <<<"${victims[$idx]}"
      if kill -s "$sig" "$hit_pid" 2>/dev/null; then
        t_fault=$(now_us)
      else
        hit=''
      fi
    fi
  fi
  hung=0
  {
    if [[ -n "$t_fault" ]] && ! wait_until "$pid" $(( t_fault + hang_after * 1000000 )); then
      hung=1
      kill -s TERM "$pid" || true
      wait_until "$pid" $(( $(now_us) + 10000000 )) || kill -s KILL "$pid" || true
    fi
    wait "$pid" || rc=$?
  } 2>/dev/null  # (Without bash's "Killed" line when an embedded start is killed.)
  t1=$(now_us)
  elapsed=$(seconds $(( t1 - t0 )))
  faulted_us=$(( faulted_us + t1 - t0 ))
  if [[ -n "$t_fault" ]]; then
    to_end=$(seconds $(( t1 - t_fault )))
    # Every rank must be gone with the launcher.
    left=()
    for v in "${victims[@]}"; do
      read -r _ vpid <<<"$v"
      for _ in $(seq 50); do running "$vpid" || break; sleep 0.1; done
      if running "$vpid"; then
        left+=("$v")
        kill -s KILL "$vpid" 2>/dev/null || true
      fi
    done
  fi
  if [[ -z "$sig" ]]; then
    fault_text=-
  elif [[ -z "$t_fault" ]]; then
    fault_text="(SIG$sig at $delay s: the start had ended)"
  elif (( n > 1 )); then
    fault_text="SIG$sig at $delay s to rank $hit"
  else
    fault_text="SIG$sig at $delay s (embedded)"
  fi
  to_rank=''
  if (( n > 1 )); then to_rank=" to rank $hit"; fi
  what="start $starts ($n rank(s), ${t_fault:+SIG$sig at $delay s$to_rank, }ran $elapsed s): exit $rc"
  note=''
  (( hung == 0 )) ||
    problem "$what: still running $hang_after s after the SIG$sig; stopped (SIGTERM to timeout)"
  [[ -n "$t_fault" ]] && (( ${#left[@]} > 0 )) &&
    problem "$what: rank process(es) still running after the launcher's exit (killed now): ${left[*]}"
  if [[ -n "$t_fault" ]] &&
    /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' \
      "$to_end" "$end_bound"; then
    problem "$what: the job ended $to_end s after the SIG$sig, more than $end_bound s"
  fi
  (( rc == 124 )) && problem "$what: still running after $start_limit s (timeout): hung"

  if (( rc == 0 )); then
    echo "faults_mpi.sh: $what, finished" >&2
    [[ -n "$t_fault" ]] &&
      problem "$what: SIG$sig at $delay s to rank $hit did not stop it (exit 0 $to_end s later, output written)"
    finished=1
    final_ranks=$n
  elif [[ -z "$t_fault" ]]; then
    problem "$what without a fault: $(grep -v '^-*$' "$work/start-$starts.err" | head -n 2 | tr '\n' ' ')"
  else
    if [[ "$sig" == KILL ]]; then n_kills=$(( n_kills + 1 )); else n_terms=$(( n_terms + 1 )); fi
  fi
  if [[ -e "$out" ]] && (( rc != 0 )); then
    # Written before the stop: deepdist writes the vectors when training ends, then
    # evaluates them, so a stop during the evaluation leaves them. They must be whole;
    # moved aside, as the next start trains the rest again from the checkpoint and
    # writes its own.
    mv -f -- "$out" "$work/written-by-start-$starts.bin"
    if ! "$deepdist" word2vec analogy --vectors "$work/written-by-start-$starts.bin" \
      --questions "$questions" --json >/dev/null 2>"$work/analogy.err"; then
      problem "$what: the output was written by a stopped start and does not load: $(tail -n 1 "$work/analogy.err")"
    else
      note+="; the output was written whole before the SIG$sig (it came after training)"
    fi
  fi
  for f in "$out".tmp.*; do
    [[ -e "$f" && -z "${left_origin[$f]:-}" ]] && left_origin[$f]="start $starts's SIG$sig at $delay s"
  done
  words=-1 mtime='' ck_ranks=0 ck_gen=0
  if [[ -f "$dir/checkpoint.ddc" ]]; then
    if checked=$(check_checkpoint "$dir"); then
      read -r ck_ranks ck_gen words mtime spread <<<"$checked"
      if (( ck_ranks > 1 )); then
        note+="; checkpoint of $ck_ranks ranks (generation $ck_gen)"
        (( spread == 0 )) || note+=", the shards' progress differs by up to $spread words"
      else
        note+="; embedded checkpoint"
      fi
      (( words >= last_words )) ||
        problem "$what: the checkpoint went back from $last_words to $words words"
      last_words=$words
    else
      problem "$what: $checked"
    fi
  else
    note+="; no checkpoint yet"
    (( last_words < 0 )) || problem "$what: $dir/checkpoint.ddc is gone (it held $last_words words)"
  fi
  for f in "${!left_origin[@]}"; do  # Gone since: a later start removed it.
    [[ -e "$f" ]] || unset 'left_origin[$f]'
  done
  for f in "${!named_by[@]}"; do
    [[ -e "$f" ]] || unset 'named_by[$f]'
  done
  named=()  # The shard files checkpoint.ddc names.
  for (( r = 0; ck_ranks > 1 && r < ck_ranks; r++ )); do
    f="$dir/shard-$r-of-$ck_ranks.$ck_gen.ddc"
    named+=("$f")
    [[ -n "${named_by[$f]:-}" ]] ||
      named_by[$f]="the checkpoint start $starts left ($ck_ranks ranks, generation $ck_gen)"
  done
  if [[ -d "$dir" ]] && (( rc != 0 )); then
    for f in "$dir"/* "$dir"/.[!.]*; do
      [[ -e "$f" ]] || continue
      name=${f##*/}
      if [[ "$name" == checkpoint.ddc || " ${named[*]} " == *" $f "* || -n "${left_origin[$f]:-}" ]]; then
        continue
      fi
      size=$(stat -c %s -- "$f")
      if [[ "$name" == *.tmp.* ]]; then
        why="the SIG$sig came during a save"
      elif ! [[ "$name" =~ ^shard-[0-9]+-of-[0-9]+\.([0-9]+)\.ddc$ ]]; then
        problem "$what: an unexpected file in the checkpoint folder: $name ($size bytes)"
        continue
      elif [[ -z "${named_by[$f]:-}" ]]; then
        why="a save cut short before rank 0 committed it"
      elif (( ck_ranks == 1 )); then
        # The embedded checkpoint replaced a distributed one and left its shards.
        why="a shard file of ${named_by[$f]}, replaced by this start's embedded checkpoint.ddc without removing it"
        problem "$what: $name ($size bytes) is left beside the embedded checkpoint.ddc: $why"
      else
        why="named by ${named_by[$f]}, not removed yet: the $sig came between rank 0's commit of the next one and its removal of the old files"
      fi
      left_origin[$f]="start $starts (SIG$sig at $delay s): $why"
      note+="; $name left ($size bytes: $why)"
    done
  fi
  if [[ "$sig" == TERM && -n "$t_fault" && "$rc" != 0 ]]; then
    mapfile -t lines < <(grep 'interrupted by' "$work/start-$starts.err" || true)
    if (( ${#lines[@]} != 1 )) || [[ "${lines[0]}" != *"checkpoint in $dir/checkpoint.ddc"* ]]; then
      problem "$what: not one \"interrupted by ... checkpoint in $dir/checkpoint.ddc\" line (${#lines[@]}: ${lines[*]:-none}; stderr ends: $(tail -n 1 "$work/start-$starts.err"))"
    elif [[ -z "$mtime" || "$mtime" == "$last_mtime" ]]; then
      problem "$what: the checkpoint is not the SIGTERM's final one (the previous stop's is still there)"
    else
      note+="; \"${lines[0]#deepdist: }\""
      after=$(/usr/bin/python3 -c 'import sys; print("%+.2f" % (float(sys.argv[1]) - float(sys.argv[2]) / 1e6))' \
        "$mtime" "$t_fault")
      note+="; its checkpoint.ddc is from $after s after the signal"
    fi
  fi
  [[ -n "$mtime" ]] && last_mtime=$mtime
  pct=-
  (( words >= 0 )) && pct=$(/usr/bin/python3 -c 'import sys; print("%.1f" % (100 * int(sys.argv[1]) / int(sys.argv[2])))' \
    "$words" "$ref_words")
  note=${note#; }
  rows+=("| $starts | $n | $fault_text | $rc | $elapsed | $to_end | $pct | ${note:--} |")
  echo "faults_mpi.sh: $what; ${note:-}" >&2
  if (( finished )) || [[ -z "$t_fault" ]]; then
    break  # Finished, or failed without a fault.
  fi
done

faulted_acc=- final_words=-
if (( finished )); then
  read -r train_acc resumed resumed_words final_words json_ranks < <(json_fields accuracy resumed \
    resumed_words words ranks <"$work/start-$starts.json")
  echo "faults_mpi.sh: the last start ($final_ranks rank(s)) resumed: $resumed ($resumed_words words); $final_words words in all" >&2
  if (( last_words >= 0 )) && [[ "$resumed" != true ]]; then
    problem "the last start did not resume from the checkpoint of $last_words words"
  fi
  if [[ "$json_ranks" != - && "$json_ranks" != "$final_ranks" ]]; then
    problem "the last start ran on $final_ranks rank(s), its summary says $json_ranks"
  fi
  if [[ "$final_words" != "$ref_words" ]]; then
    problem "the faulted run trained $final_words words, the uninterrupted run $ref_words"
  fi
  [[ -f "$dir/checkpoint.ddc" ]] || problem "at the end: no $dir/checkpoint.ddc"
  # (It was checked with the last start's stop: whole, and "named" its shard files.)
  for f in "$dir"/* "$dir"/.[!.]*; do
    [[ -e "$f" ]] || continue
    name=${f##*/}
    [[ "$name" == checkpoint.ddc || " ${named[*]} " == *" $f "* ]] && continue
    size=$(stat -c %s -- "$f")
    if [[ -n "${left_origin[$f]:-}" ]]; then
      problem "$name ($size bytes) is still in the checkpoint folder at the end, no later start removed it; left by ${left_origin[$f]}"
    elif [[ -n "${named_by[$f]:-}" ]]; then
      problem "$name ($size bytes), a shard file of ${named_by[$f]}, is still in the checkpoint folder at the end: the last start's $( (( ck_ranks > 1 )) && echo "checkpoint" || echo "embedded checkpoint") replaced that one without removing it"
    else
      problem "$name ($size bytes) is in the checkpoint folder at the end, left by the last start"
    fi
  done
  for f in "$out".tmp.*; do
    [[ -e "$f" ]] && problem "${f##*/} left beside the output by ${left_origin[$f]:-an unknown stop}, still there at the end"
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
(( n_kills == (kills > 0 ? kills - 1 : 0) )) ||
  notes+=("$n_kills of $(( kills > 0 ? kills - 1 : 0 )) kills: the run finished before the rest came")
(( kills == 0 || n_terms == 1 )) || notes+=("no SIGTERM stop: the run finished before its turn came")
if [[ "$faulted_acc" != - ]] &&
  ! /usr/bin/python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.01)' \
    "$faulted_acc" "$ref_acc"; then
  problem "accuracy $faulted_acc is more than 1 point from the uninterrupted run's $ref_acc"
fi

{
  echo "# deepdist fault-injection benchmark under mpirun, $(date +%Y-%m-%d)"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(mpirun --version | head -n 1). Binary: $deepdist (built $(date -r "$deepdist" '+%Y-%m-%d %H:%M')); repository at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Corpus: $input ($(wc -c <"$input") bytes), $epochs epoch(s), 1 thread per rank; starts on $ranks_list rank(s) in turn (1: embedded)."
  echo "Faults: $(( kills > 0 ? kills - 1 : 0 )) SIGKILL and $(( kills > 0 ? 1 : 0 )) SIGTERM to one rank at $kill_lo .. $kill_hi s after a start, seed $seed; a checkpoint every $every s."
  echo
  /usr/bin/python3 - "$ref_ranks" "$ref_seconds" "$ref_acc" "$ref_words" "$n_kills" "$n_terms" \
    "$starts" "$(seconds "$faulted_us")" "$faulted_acc" "$final_words" "$ranks_list" <<'EOF'
import sys
ref_r, ref_s, ref_acc, ref_w, kills, terms, starts, f_s, f_acc, f_w, cycle = sys.argv[1:]
pct = lambda a: "-" if a == "-" else "%.2f" % (100 * float(a))
diff = "-" if f_acc == "-" else "%+.2f" % (100 * (float(f_acc) - float(ref_acc)))
print("| run | ranks | kills | SIGTERMs | starts | seconds | words | analogy % | vs uninterrupted (points) |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| uninterrupted | {ref_r} | 0 | 0 | 1 | {float(ref_s):.1f} | {ref_w} | {pct(ref_acc)} | - |")
print(f"| faulted | {cycle} | {kills} | {terms} | {starts} | {float(f_s):.1f} | {f_w} | {pct(f_acc)} | {diff} |")
EOF
  echo
  echo "| start | ranks | fault | exit | seconds | to end (s) | checkpoint % | note |"
  echo "|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do echo "$row"; done
  echo
  if (( ${#problems[@]} == 0 )); then
    echo "Result: PASS (every stop ended the job within $end_bound s of the fault and left a whole checkpoint, no partial output, and nothing behind that a later start did not remove; the same words trained, accuracy within 1 point)."
  else
    echo "Result: FAIL"
    for p in "${problems[@]}"; do echo "- $p"; done
  fi
  for nt in "${notes[@]}"; do echo "Note: $nt."; done
} | tee "$report"
echo "faults_mpi.sh: report in $report" >&2
(( ${#problems[@]} == 0 ))
