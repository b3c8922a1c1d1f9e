#!/usr/bin/env bash
# Installs what deepdist needs to build, test and benchmark, from Debian's
# packages only. Idempotent and non-interactive; run as root (or with sudo).
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --peers  also what the benchmarks need (fastText, matplotlib)
#   scripts/install-deps.sh --fuzz   also what scripts/fuzz.sh needs (clang, libFuzzer)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libhwy-dev           # Google Highway: portable SIMD with runtime dispatch
  libcli11-dev         # CLI11: command-line parsing
  nlohmann-json3-dev   # JSON output (--json)
  zlib1g-dev           # .gz input partitions
  libexpat1-dev        # expat: corpus prepare parses MediaWiki XML dumps with it
  libbz2-dev           # libbz2: corpus prepare decompresses .xml.bz2 dumps
  libcpp-httplib-dev   # cpp-httplib: the read-only status server (--status-port)
  chromium             # headless: the test of the status page drives it
  openmpi-bin libopenmpi-dev  # the MPI store (mpirun, MPI's C API)
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-gensim       # tests load our vectors files in gensim
  libopenblas0-pthread # the BLAS that gensim's scipy uses
  python3-sklearn      # its handwritten digits (digits.csv.gz): the MLP's test data
  pybind11-dev         # the Python module (python/): C++ bindings
  python3-dev          # the Python module: Python's headers
  python3-numpy        # the Python module: tables and vectors as numpy arrays
  python3-pytest       # the Python module's tests (tests/python/, ctest label python)
  time
)
peer_pkgs=(
  fasttext
  python3-matplotlib  # bench/convergence.sh's plots
)

fuzz_pkgs=(
  clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes for clang
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--peers" ]]; then want+=("${peer_pkgs[@]}"); fi
if [[ "${1:-}" == "--fuzz" ]]; then want+=("${fuzz_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
