#!/usr/bin/env bash
# The dump-conversion benchmark: `deepdist corpus prepare` on a generated
# MediaWiki dump, as plain XML, as a multistream .bz2 (100 pages a stream,
# as Wikimedia's pages-articles-multistream dumps are cut) and as a single
# bz2 stream, at --threads 1 and 2.
#
# Usage:
#   bench/corpus_prepare.sh [--deepdist PATH] [--mb MB] [--runs R] [--threads "1 2"]
#                           [--corpus PATH] [--work DIR]
#
# Defaults: build/deepdist, a dump of about 64 MB of XML, 3 runs of each
# setting (interleaved), threads 1 and 2. The prose comes from the shared
# corpus ($DEEPDIST_DATA, ../shared/data/enwiki-clean-1e8.txt.gz or
# data/corpus.txt; --corpus to choose), cut into articles of 200 to 1,200
# words and dressed in the markup of real articles: an infobox with nested
# templates and a table inside, links with and without pipes, <ref>s with
# citation templates, files with captions, a table, headings, external
# links, entities, bold and italics, comments, categories and
# interlanguage links; one page in ten is a redirect and one in ten a talk
# page. The dump and its compressed forms are written under --work
# (default data/bench/corpus_prepare, git-ignored) and kept for reruns.
#
# Output: a markdown table on stdout, medians over the runs: seconds, MB/s
# of the input file (compressed bytes for .bz2), MB/s of XML, pages/s (MB
# are 10^6 bytes); "runs" is the number of runs of whole bz2 streams the
# file was decoded in, each by one thread (--json's bz2_runs); CPU s is
# user + system time (median) and peak RSS the largest maximum resident set
# size, both from /usr/bin/time. The outputs of every setting are checked to be the same
# bytes. Timings are reported, never judged.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root

die() {
  echo "corpus_prepare.sh: $*" >&2
  exit 1
}

deepdist="$root/build/deepdist"
mb=64
runs=3
threads_list="1 2"
corpus=
work="$root/data/bench/corpus_prepare"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deepdist) deepdist=$2; shift 2 ;;
    --mb) mb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ -x "$deepdist" ]] || die "$deepdist: not built (cmake --build build)"
if [[ -z "$corpus" ]]; then
  for c in "${DEEPDIST_DATA:-}/enwiki-clean-1e8.txt.gz" "$root/../shared/data/enwiki-clean-1e8.txt.gz" \
           "$root/data/corpus.txt"; do
    if [[ -f "$c" ]]; then corpus=$c; break; fi
  done
fi
[[ -n "$corpus" && -f "$corpus" ]] || die "no corpus text found (--corpus PATH)"
mkdir -p "$work"
xml="$work/dump-${mb}mb.xml"

if [[ ! -s "$xml" || ! -s "$xml.multistream.bz2" || ! -s "$xml.bz2" ]]; then
  echo "corpus_prepare.sh: writing a ${mb} MB dump from $corpus to $xml" >&2
  python3 - "$corpus" "$xml" "$mb" <<'EOF'
import bz2, gzip, random, sys

corpus, out_path, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
target = mb * 1_000_000
opener = gzip.open if corpus.endswith(".gz") else open
with opener(corpus, "rt", encoding="utf-8", errors="replace") as f:
    # A quarter of the dump's size in prose, reused in turn if it runs out.
    words = f.read(target // 4).split()
rng = random.Random(42)
pos = 0

def take(n):
    global pos
    if pos + n > len(words):
        pos = 0
    chunk = words[pos:pos + n]
    pos += n
    return chunk

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

def title(ws):
    return " ".join(w.capitalize() for w in ws)

def sentence():
    ws = take(rng.randint(8, 25))
    out = []
    for w in ws:
        r = rng.random()
        if r < 0.06:
            out.append("[[" + title([w]) + "]]")
        elif r < 0.09:
            out.append("[[" + title(take(2)) + "|" + w + "]]")
        elif r < 0.10:
            out.append("'''" + w + "'''")
        elif r < 0.11:
            out.append("''" + w + "''")
        elif r < 0.115:
            out.append(w + "&nbsp;" + str(rng.randint(1, 2000)))
        else:
            out.append(w)
    s = " ".join(out)
    s = s[0].upper() + s[1:] + "."
    if rng.random() < 0.25:
        s += ('<ref name="r%d">{{cite web |url=https://example.org/%s |title=%s |date=%d '
              '|publisher={{lang|fr|%s}}}}</ref>' % (rng.randint(1, 99), take(1)[0],
                                                      title(take(3)), rng.randint(1900, 2020),
                                                      title(take(2))))
    elif rng.random() < 0.05:
        s += '<ref name="r%d" />' % rng.randint(1, 99)
    return s

def article(name):
    parts = ["{{Short description|%s}}" % " ".join(take(5)),
             "{{Infobox %s\n| name = %s\n| image = %s.jpg\n| caption = %s\n"
             "| born = {{birth date|%d|%d|%d}}\n| stats =\n{| class=\"wikitable\"\n| %s || %d\n|}\n}}"
             % (take(1)[0], name, take(1)[0], " ".join(take(6)), rng.randint(1800, 2000),
                rng.randint(1, 12), rng.randint(1, 28), take(1)[0], rng.randint(1, 999))]
    budget = rng.randint(200, 1200)
    words_out = 0
    while words_out < budget:
        para = " ".join(sentence() for _ in range(rng.randint(2, 6)))
        words_out += para.count(" ") + 1
        r = rng.random()
        if r < 0.15:
            parts.append("\n== %s ==" % title(take(2)))
        elif r < 0.22:
            parts.append("[[File:%s.jpg|thumb|upright|The [[%s]] in %d]]"
                         % (title(take(2)), title(take(1)), rng.randint(1800, 2020)))
        elif r < 0.27:
            parts.append("{| class=\"wikitable sortable\"\n! %s !! %s\n|-\n| %s || {{sort|%d}}\n|}"
                         % (take(1)[0], take(1)[0], " ".join(take(4)), rng.randint(1, 99)))
        elif r < 0.30:
            parts.append("<!-- %s -->" % " ".join(take(6)))
        parts.append(para)
    parts.append("\n== References ==\n{{reflist}}\n\n== External links ==\n"
                 "* [https://www.example.org/%s %s]\n" % (take(1)[0], title(take(3))))
    parts.append("[[Category:%s]]\n[[Category:%s]]\n[[de:%s]]\n[[fr:%s]]"
                 % (title(take(2)), title(take(2)), name, name))
    return "\n".join(parts)

head = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" '
        'xml:lang="en">\n  <siteinfo>\n    <sitename>Wikipedia</sitename>\n    <namespaces>\n'
        '      <namespace key="0" case="first-letter" />\n'
        '      <namespace key="1" case="first-letter">Talk</namespace>\n'
        '    </namespaces>\n  </siteinfo>\n')
tail = "</mediawiki>\n"
pages = []
size = len(head) + len(tail)
page_id = 0
while size < target:
    page_id += 1
    name = title(take(rng.randint(1, 3)))
    kind = rng.random()
    if kind < 0.1:
        ns, text, redirect = 0, "#REDIRECT [[%s]]" % title(take(2)), True
    elif kind < 0.2:
        ns, text, redirect = 1, " ".join(sentence() for _ in range(6)), False
        name = "Talk:" + name
    else:
        ns, text, redirect = 0, article(name), False
    page = ("  <page>\n    <title>%s</title>\n    <ns>%d</ns>\n    <id>%d</id>\n%s"
            "    <revision>\n      <id>%d</id>\n      <model>wikitext</model>\n"
            "      <format>text/x-wiki</format>\n"
            '      <text bytes="%d" xml:space="preserve">%s</text>\n'
            "    </revision>\n  </page>\n"
            % (esc(name), ns, page_id,
               '    <redirect title="%s" />\n' % esc(name) if redirect else "",
               10_000_000 + page_id, len(text), esc(text)))
    pages.append(page)
    size += len(page.encode("utf-8"))
with open(out_path, "w", encoding="utf-8") as f:
    f.write(head)
    f.writelines(pages)
    f.write(tail)
# Multistream: the head, every 100 pages, the tail, each a bz2 stream.
with open(out_path + ".multistream.bz2", "wb") as f:
    f.write(bz2.compress(head.encode("utf-8"), 9))
    for i in range(0, len(pages), 100):
        f.write(bz2.compress("".join(pages[i:i + 100]).encode("utf-8"), 9))
    f.write(bz2.compress(tail.encode("utf-8"), 9))
print("corpus_prepare.sh: %d pages" % len(pages), file=sys.stderr)
EOF
  bzip2 -9 -c "$xml" > "$xml.bz2"  # One single stream.
fi

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
inputs=("$xml.multistream.bz2" "$xml.bz2" "$xml")
labels=("multistream .bz2" "single-stream .bz2" "plain .xml")
results="$work/results.tsv"
: > "$results"
for ((run = 1; run <= runs; ++run)); do
  for i in "${!inputs[@]}"; do
    for t in $threads_list; do
      out="$work/out-$i-$t.txt"
      json=$(/usr/bin/time -f "%U %S %M" -o "$work/time.txt" "$deepdist" corpus prepare \
             --input "${inputs[$i]}" --output "$out" --threads "$t" --json 2>/dev/null | tail -n 1)
      python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print("\t".join(str(j[k]) for k in
("seconds", "input_bytes", "xml_bytes", "pages", "articles", "tokens", "bz2_streams",
 "bz2_runs")))' "$json" |
        sed "s/^/$i\t$t\t/;s/\$/\t$(tr ' ' '\t' < "$work/time.txt")/" >> "$results"
    done
  done
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Every setting wrote the same bytes.
first=
for f in "$work"/out-*.txt; do
  if [[ -z "$first" ]]; then first=$f; continue; fi
  cmp -s "$first" "$f" || die "$f differs from $first"
done
echo "every setting wrote the same $(wc -c < "$first") bytes"

python3 - "$results" "$deepdist" "${labels[@]}" <<'EOF'
import statistics, sys
from collections import defaultdict

rows = defaultdict(list)
cpu = defaultdict(list)
rss = defaultdict(list)
info = {}
for line in open(sys.argv[1]):
    (i, t, seconds, input_bytes, xml_bytes, pages, articles, tokens, streams, runs, user, system,
     rss_kb) = line.split("\t")
    rows[(int(i), int(t))].append(float(seconds))
    cpu[(int(i), int(t))].append(float(user) + float(system))
    rss[(int(i), int(t))].append(int(rss_kb))
    info[(int(i), int(t))] = (int(input_bytes), int(xml_bytes), int(pages), int(articles),
                              int(tokens), int(streams), int(runs))
labels = sys.argv[3:]
any_info = next(iter(info.values()))
print("%d pages, %d articles, %d tokens; %.1f MB of XML" %
      (any_info[2], any_info[3], any_info[4], any_info[1] / 1e6))
print()
print("| input | size (MB) | bz2 streams | --threads | runs | seconds (median of %d) | input MB/s "
      "| XML MB/s | pages/s | CPU s | peak RSS (MiB) |" % len(next(iter(rows.values()))))
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (i, t) in sorted(rows):
    s = statistics.median(rows[(i, t)])
    input_bytes, xml_bytes, pages, _, _, streams, runs = info[(i, t)]
    print("| %s | %.1f | %s | %d | %s | %.2f | %.1f | %.1f | %s | %.2f | %.0f |" %
          (labels[i], input_bytes / 1e6, streams if streams else "-", t, runs if runs else "-", s,
           input_bytes / 1e6 / s, xml_bytes / 1e6 / s, format(round(pages / s), ","),
           statistics.median(cpu[(i, t)]), max(rss[(i, t)]) / 1024))
EOF
