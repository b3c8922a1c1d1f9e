#!/usr/bin/env bash
# Puts the word2vec training corpus and the analogy questions into data/ under the
# repository root, where the tests, examples and benchmarks expect them:
#
#   data/corpus.txt           the full corpus: 100,000,000 bytes of lowercase a-z words
#                             separated by single spaces, one line (text8 format)
#   data/small.txt            its first 10,000,000 bytes (about 1.7M tokens), for quick runs
#   data/questions-words.txt  the word-analogy questions of Mikolov et al. (2013)
#   data/corpus.source        one line naming where corpus.txt came from
#
# Sources, in order:
#   1. $DEEPDIST_DATA, if set: a folder holding enwiki-clean-1e8.txt.gz (or the unpacked
#      enwiki-clean-1e8.txt) and questions-words.txt;
#   2. ../shared/data relative to the repository root (same layout);
#   3. the public copies: text8 from mattmahoney.net and the questions from the word2vec
#      repository. text8 is a different Wikipedia snapshot from enwiki-clean-1e8, so
#      accuracy and speed numbers differ a little between the two.
# Source folders are only read, never written.
#
# Idempotent: outputs that already exist with the right size (and, for the questions,
# the right checksum) are kept. Every output is written to a temporary file and renamed
# into place, so an interrupted run never leaves a truncated file behind.
#
# Usage: scripts/get-data.sh        (from any working directory)
set -euo pipefail

readonly CORPUS_BYTES=100000000
readonly SMALL_BYTES=10000000
readonly QUESTIONS_SHA256=8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36
readonly ENWIKI_SHA256=805729b392426366b3810587cdc52de8404d444e7384986d2cdf62b31e86325e
readonly TEXT8_URL=http://mattmahoney.net/dc/text8.zip
readonly QUESTIONS_URL=https://raw.githubusercontent.com/tmikolov/word2vec/master/questions-words.txt

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/data"

die() {
  echo "get-data.sh: $*" >&2
  exit 1
}

# Prints the size of a file in bytes, or -1 when it does not exist.
size_of() {
  if [[ -f "$1" ]]; then stat -c %s -- "$1"; else echo -1; fi
}

sha256_of() {
  sha256sum -- "$1" | cut -d' ' -f1
}

download() {  # URL DEST
  if command -v curl >/dev/null 2>&1; then
    curl -fsL --retry 3 --connect-timeout 30 -o "$2" "$1" || die "download failed: $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=3 -O "$2" "$1" || die "download failed: $1"
  else
    die "neither curl nor wget is installed; cannot download $1"
  fi
}

# The local source folder, or empty when there is none.
if [[ -n "${DEEPDIST_DATA:-}" ]]; then
  [[ -d "$DEEPDIST_DATA" ]] || die "DEEPDIST_DATA=$DEEPDIST_DATA is not a folder"
  src=$(cd "$DEEPDIST_DATA" && pwd)
elif [[ -d "$root/../shared/data" ]]; then
  src=$(cd "$root/../shared/data" && pwd)
else
  src=
fi

mkdir -p "$data"
tmp=$(mktemp -d "$data/.get-data.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

done_msgs=()

# --- corpus.txt ---------------------------------------------------------------
corpus="$data/corpus.txt"
corpus_new=0
if [[ $(size_of "$corpus") -ne $CORPUS_BYTES ]]; then
  if [[ -n "$src" && -f "$src/enwiki-clean-1e8.txt.gz" ]]; then
    zcat -- "$src/enwiki-clean-1e8.txt.gz" >"$tmp/corpus.txt"
    origin="enwiki-clean-1e8 ($src/enwiki-clean-1e8.txt.gz)"
    expect_sha=$ENWIKI_SHA256
  elif [[ -n "$src" && -f "$src/enwiki-clean-1e8.txt" ]]; then
    cp -- "$src/enwiki-clean-1e8.txt" "$tmp/corpus.txt"
    origin="enwiki-clean-1e8 ($src/enwiki-clean-1e8.txt)"
    expect_sha=$ENWIKI_SHA256
  else
    download "$TEXT8_URL" "$tmp/text8.zip"
    unzip -p "$tmp/text8.zip" text8 >"$tmp/corpus.txt" || die "cannot unzip text8 from $TEXT8_URL"
    rm -f -- "$tmp/text8.zip"
    origin="text8 ($TEXT8_URL)"
    expect_sha=
  fi
  got=$(size_of "$tmp/corpus.txt")
  [[ $got -eq $CORPUS_BYTES ]] || die "corpus from $origin is $got bytes, expected $CORPUS_BYTES"
  if [[ -n "$expect_sha" && $(sha256_of "$tmp/corpus.txt") != "$expect_sha" ]]; then
    die "corpus from $origin has the wrong sha256 (expected $expect_sha)"
  fi
  echo "$origin" >"$tmp/corpus.source"
  mv -f -- "$tmp/corpus.txt" "$corpus"
  mv -f -- "$tmp/corpus.source" "$data/corpus.source"
  corpus_new=1
  done_msgs+=("corpus.txt from $origin")
fi

# --- small.txt: the corpus's first 10^7 bytes -----------------------------------
small="$data/small.txt"
if [[ $corpus_new -eq 1 || $(size_of "$small") -ne $SMALL_BYTES ]]; then
  head -c "$SMALL_BYTES" -- "$corpus" >"$tmp/small.txt"
  mv -f -- "$tmp/small.txt" "$small"
  done_msgs+=("small.txt (first $SMALL_BYTES bytes)")
fi

# --- questions-words.txt --------------------------------------------------------
questions="$data/questions-words.txt"
if [[ ! -f "$questions" || $(sha256_of "$questions") != "$QUESTIONS_SHA256" ]]; then
  if [[ -n "$src" && -f "$src/questions-words.txt" ]]; then
    cp -- "$src/questions-words.txt" "$tmp/questions-words.txt"
    chmod 644 -- "$tmp/questions-words.txt"
    qorigin="$src/questions-words.txt"
  else
    download "$QUESTIONS_URL" "$tmp/questions-words.txt"
    qorigin="$QUESTIONS_URL"
  fi
  [[ $(sha256_of "$tmp/questions-words.txt") == "$QUESTIONS_SHA256" ]] ||
    die "questions-words.txt from $qorigin has the wrong sha256 (expected $QUESTIONS_SHA256)"
  mv -f -- "$tmp/questions-words.txt" "$questions"
  done_msgs+=("questions-words.txt from $qorigin")
fi

if [[ ${#done_msgs[@]} -eq 0 ]]; then
  echo "get-data.sh: $data is up to date (corpus: $(cat "$data/corpus.source" 2>/dev/null || echo unknown source))."
else
  msg=$(printf '%s; ' "${done_msgs[@]}")
  echo "get-data.sh: wrote into $data: ${msg%; }."
fi
