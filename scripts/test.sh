#!/usr/bin/env bash
# Installs the test dependencies, builds every test configuration and runs
# its tests. Each configuration is a separate build folder:
#   build-release  Release (-O3): all tests, the end-to-end training test and the
#                  MPI tests (label "mpi", run under mpiexec with 2 and 3 ranks) included;
#                  then installed (build-release/installed), and the examples built
#                  against the installed package (build-examples/) and run
#   build-asan     Debug with AddressSanitizer and UBSan: the unit and MPI tests
# Usage: scripts/test.sh [release|asan]...   (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/get-data.sh

configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(release asan)
jobs=$(nproc)

for config in "${configs[@]}"; do
  case "$config" in
    release)
      cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEEPDIST_BUILD_TESTS=ON >/dev/null
      cmake --build build-release -j "$jobs"
      (cd build-release && ctest --output-on-failure -j "$jobs" --timeout 600)
      # The public API as users get it: installed, and each example built on
      # its own (examples/NAME/CMakeLists.txt) against the installed package,
      # then run: word2vec on the small corpus, linear regression embedded
      # and under mpiexec (the weights it must reach).
      prefix="$root/build-release/installed"
      rm -rf "$prefix" build-examples
      cmake --install build-release --prefix "$prefix" >/dev/null
      for dir in examples/*/; do
        name=$(basename "$dir")
        cmake -S "$dir" -B "build-examples/$name" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
        cmake --build "build-examples/$name"
      done
      timeout 300 build-examples/word2vec_train/word2vec_train data/small.txt \
        build-examples/vectors.bin
      OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 tests/mpi_example_test.sh \
        build-examples/linear_regression/linear_regression mpiexec -n 2 --oversubscribe
      ;;
    asan)
      cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEEPDIST_BUILD_TESTS=ON \
        -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" >/dev/null
      cmake --build build-asan -j "$jobs"
      (cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 600 -LE slow)
      ;;
    *)
      echo "test.sh: unknown configuration '$config' (release, asan)" >&2
      exit 2
      ;;
  esac
done
