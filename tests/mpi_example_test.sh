#!/usr/bin/env bash
# The linear-regression example, a custom model on the DeepDist API, under
# mpirun -np 2 against the same program embedded: in sync mode the weights
# must be the same (the rounds combine the same partitions' gradients), in
# async mode both must learn the true weights.
#   mpi_example_test.sh EXAMPLE MPIEXEC ARGS...
set -uo pipefail
example=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# y = 2 x1 - 3 x2 + 0.5 x3 + 1, x from a fixed linear congruential sequence.
awk 'BEGIN { s = 12345; for (i = 0; i < 8000; i++) { for (k = 0; k < 3; k++) {
       s = (s * 1103515245 + 12345) % 2147483648; x[k] = s / 1073741824 - 1 }
       printf "%.6f %.4f %.4f %.4f\n", 2 * x[0] - 3 * x[1] + 0.5 * x[2] + 1, x[0], x[1], x[2] } }' \
  >"$dir/data.txt"
fail() { echo "FAIL: $*"; exit 1; }
for mode in sync async; do
  arg=()
  [[ $mode == sync ]] && arg=(sync)
  timeout 60 "$example" "$dir/data.txt" 3 "${arg[@]}" >"$dir/embedded.$mode" || fail "embedded $mode"
  timeout 60 "$@" "$example" "$dir/data.txt" 3 "${arg[@]}" >"$dir/mpi.$mode" 2>"$dir/err" ||
    { cat "$dir/err"; fail "mpirun $mode"; }
  echo "--- $mode: embedded / 2 ranks"; paste "$dir/embedded.$mode" "$dir/mpi.$mode"
  [[ $(wc -l <"$dir/mpi.$mode") -eq 4 ]] || fail "rank 0 alone should print the 4 weights"
  for f in "$dir/embedded.$mode" "$dir/mpi.$mode"; do
    awk -v m=$mode 'BEGIN { split("2 -3 0.5 1", w, " ") }
      { d = $3 - w[NR]; if (d < 0) d = -d; if (d > (m == "sync" ? 0.15 : 0.02)) bad = 1 }
      END { exit bad }' "$f" || fail "$f: weights not learned"
  done
done
cmp -s "$dir/embedded.sync" "$dir/mpi.sync" || fail "sync: the 2-rank weights differ from embedded"
echo PASS
