#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install, build, get the data,
# train word2vec (skip-gram) on the corpus, then print the analogy accuracy
# and the answer to king - man + woman.
#   scripts/quickstart.sh [extra train flags, e.g. --epochs 1 --model cbow]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/get-data.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEEPDIST_BUILD_TESTS=OFF -DDEEPDIST_PYTHON=OFF >/dev/null
cmake --build build -j "$(nproc)"

build/deepdist word2vec train --input data/corpus.txt --output data/vectors.bin "$@"
echo "== analogy accuracy (3CosAdd, 30,000 most frequent words) =="
build/deepdist word2vec analogy --vectors data/vectors.bin --questions data/questions-words.txt
echo "== king - man + woman =="
build/deepdist word2vec query --vectors data/vectors.bin --positive king,woman --negative man --topn 5
