#!/usr/bin/env bash
# The status server of a training run (--status-port): /status as JSON with
# the figures of the run as it goes, /metrics in Prometheus's text format,
# the page at / (shown by headless Chromium, with the run's figures and
# curves in it), and nothing else: other paths 404, other methods 405. A
# port already taken fails a second run before it trains. The same for mlp
# and logreg, whose unit is the partition.
#   status_test.sh DEEPDIST
set -uo pipefail
bin=$1
dir=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

fail() {
  echo "FAIL: $*"
  [[ -f $dir/err ]] && { echo "--- stderr"; cat "$dir/err"; }
  exit 1
}

# The address a run prints on $dir/err, once it has (10 s at most).
status_url() {
  local url
  for _ in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$dir/err" 2>/dev/null | head -n 1)
    [[ -n $url ]] && { echo "$url"; return 0; }
    sleep 0.1
  done
  return 1
}

awk 'BEGIN { s = 7
  for (i = 0; i < 2000; i++) {
    line = ""
    for (k = 0; k < 12; k++) { s = (s * 1103515245 + 12345) % 2147483648; line = line " w" int(s / 2147483648 * 300) }
    print line
  } }' >"$dir/corpus.txt"

# Far more epochs than the test needs: it is stopped with SIGINT.
"$bin" word2vec train --input "$dir/corpus.txt" --output "$dir/v.bin" --epochs 100000 --dim 16 \
  --min-count 1 --threads 2 --quiet --status-port 0 2>"$dir/err" &
pid=$!
url=$(status_url) || fail "no status address on stderr"

/usr/bin/python3 - "$url" <<'PY' || fail "the status server"
import json, sys, time, urllib.error, urllib.request
url = sys.argv[1]

def get(path, method="GET"):
    request = urllib.request.Request(url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", ""

deadline = time.time() + 20
while True:
    code, kind, body = get("status")
    assert code == 200 and kind.startswith("application/json"), (code, kind)
    s = json.loads(body)
    if s["words"] > 0 and len(s["history"]) >= 2:
        break
    assert time.time() < deadline, s
    time.sleep(0.2)
for key in ["progress", "words", "words_per_second", "learning_rate", "loss", "seconds",
            "ranks", "bytes_sent", "updates", "staleness", "history"]:
    assert key in s, key
# Two Hogwild workers on the master rows: updates in place, never stale.
assert s["updates"] > 0 and s["staleness"] == [0, 0], s
assert 0 < s["progress"] < 1, s["progress"]
assert s["words_per_second"] > 0 and s["learning_rate"] > 0 and s["ranks"] == 1, s
times = [p["seconds"] for p in s["history"]]
assert times == sorted(times), times

code, kind, body = get("metrics")
assert code == 200 and kind.startswith("text/plain"), (code, kind)
values = {}
for line in body.splitlines():
    if line and not line.startswith("#"):
        name, value = line.split()
        values[name] = float(value)
for name in ["deepdist_words_total", "deepdist_words_per_second", "deepdist_progress",
             "deepdist_learning_rate", "deepdist_loss", "deepdist_bytes_sent_total",
             "deepdist_updates_total", 'deepdist_staleness{worker="0"}',
             'deepdist_staleness{worker="1"}']:
    assert name in values, (name, body)
assert values["deepdist_updates_total"] >= s["updates"], (values, s)
assert values["deepdist_words_total"] >= s["words"], (values, s)

code, kind, body = get("")
assert code == 200 and kind.startswith("text/html") and "fetch(\"/status\")" in body, (code, kind)

for method in ["POST", "PUT", "DELETE", "PATCH"]:
    assert get("status", method)[0] == 405, method
assert get("nope")[0] == 404
PY

# The page, as a browser shows it: headless Chromium loads it, runs its
# script (which fetches /status) and dumps the document it then holds.
command -v chromium >/dev/null || fail "chromium: not installed (scripts/install-deps.sh)"
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --virtual-time-budget=3000 --dump-dom "$url" >"$dir/page.html" 2>"$dir/chromium.err" ||
  fail "chromium: $(tail -n 3 "$dir/chromium.err")"
/usr/bin/python3 - "$dir/page.html" <<'PY' || fail "the page does not show the run"
import re, sys
page = open(sys.argv[1]).read()
def cell(name):
    m = re.search(r'id="%s">([^<]*)<' % name, page)
    assert m, name
    return m.group(1)
assert re.fullmatch(r"\d+(\.\d)?%", cell("progress")), cell("progress")
assert cell("unit_name") == "words" and cell("unit_rate") == "words/s", page
assert int(cell("done_count")) > 0 and float(cell("per_second")) > 0, page
assert 0 < float(cell("loss")) < 10 and float(cell("learning_rate")) > 0 and cell("ranks") == "1"
for line in ["progress_line", "loss_line"]:
    m = re.search(r'id="%s"[^>]*points="([^"]*)"' % line, page)
    assert m and len(m.group(1).split()) >= 2, (line, m and m.group(1))
PY

# The same port again: refused before training, naming the flag.
port=${url##*:}
port=${port%/}
"$bin" word2vec train --input "$dir/corpus.txt" --output "$dir/w.bin" --epochs 1 --dim 16 \
  --min-count 1 --quiet --status-port "$port" 2>"$dir/err2"
rc=$?
[[ $rc -eq 2 ]] || fail "a taken port: exit $rc, want 2"
grep -q -- "--status-port: cannot listen on 127.0.0.1:$port" "$dir/err2" || fail "$(cat "$dir/err2")"
[[ -e $dir/w.bin ]] && fail "a run refused its port wrote vectors"

kill -INT "$pid"
wait "$pid"
rc=$?
pid=
[[ $rc -eq 130 ]] || fail "exit $rc after SIGINT, want 130"

# The gradient forms (mlp, logreg) count partitions, with the loss their
# gradients reported. Data: two classes split by x0 + x1 > 1.
awk 'BEGIN { s = 11
  for (i = 0; i < 2000; i++) {
    line = ""; sum = 0
    for (k = 0; k < 4; k++) { s = (s * 1103515245 + 12345) % 2147483648; x = s / 2147483648
      if (k < 2) sum += x; line = line sprintf("%.4f,", x) }
    print line (sum > 1 ? 1 : 0)
  } }' >"$dir/train.csv"
awk -F, '{ printf "%s", $5; for (k = 1; k <= 4; k++) printf " %d:%s", k, $k; print "" }' \
  "$dir/train.csv" >"$dir/train.svm"
for model in mlp logreg; do
  input=$dir/train.csv
  [[ $model == logreg ]] && input=$dir/train.svm
  "$bin" "$model" train --input "$input" --epochs 1000000 --threads 2 --quiet --status-port 0 \
    2>"$dir/err" &
  pid=$!
  url=$(status_url) || fail "$model: no status address on stderr"
  /usr/bin/python3 - "$url" <<'PY' || fail "$model: the status server"
import json, sys, time, urllib.request
url = sys.argv[1]
def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return r.read().decode()
deadline = time.time() + 20
while True:
    s = json.loads(get("status"))
    if s["partitions"] > 0 and len(s["history"]) >= 2 and s["loss"] > 0:
        break
    assert time.time() < deadline, s
    time.sleep(0.2)
assert s["unit"] == "partitions" and "words" not in s, s
assert s["partitions_per_second"] > 0 and 0 < s["progress"] < 1, s
# One update per partition.
assert s["updates"] > 0 and len(s["staleness"]) == 2 and s["learning_rate"] > 0, s
assert 0 < s["loss"] < 10 and s["ranks"] == 1, s
names = {line.split()[0] for line in get("metrics").splitlines() if line and line[0] != "#"}
for name in ["deepdist_partitions_total", "deepdist_partitions_per_second", "deepdist_loss",
             "deepdist_updates_total", "deepdist_progress"]:
    assert name in names, (name, names)
PY
  port=${url##*:}
  port=${port%/}
  "$bin" "$model" train --input "$input" --epochs 1 --quiet --status-port "$port" 2>"$dir/err2"
  rc=$?
  [[ $rc -eq 2 ]] || fail "$model: a taken port: exit $rc, want 2"
  grep -q -- "--status-port: cannot listen on 127.0.0.1:$port" "$dir/err2" ||
    fail "$model: $(cat "$dir/err2")"
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  pid=
  [[ $rc -eq 130 ]] || fail "$model: exit $rc after SIGINT, want 130"
done
echo PASS
