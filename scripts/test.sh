#!/usr/bin/env bash
# Installs the test dependencies, builds every test configuration and runs
# its tests. Each configuration is a separate build folder:
#   build-release  Release (-O3): all tests, the end-to-end training test and the
#                  MPI tests (label "mpi", run under mpiexec with 2 and 3 ranks) included;
#                  the Python module's pytest suite (label "python") included;
#                  then installed (build-release/installed), and the examples built
#                  against the installed package (build-examples/) and run
#   build-asan     Debug with AddressSanitizer and UBSan: the unit and MPI tests
#                  (no Python module: an instrumented library cannot load into python3)
#   build-tsan     Debug with ThreadSanitizer, without MPI (Open MPI is not
#                  instrumented): the store, replica, engine and trainer tests,
#                  whose workers run on threads; the races Hogwild intends are
#                  listed, each with why, in tests/tsan.supp, and any other fails
# Usage: scripts/test.sh [release|asan|tsan]...   (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/get-data.sh

configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(release asan tsan)
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
        -DDEEPDIST_PYTHON=OFF \
        -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" >/dev/null
      cmake --build build-asan -j "$jobs"
      (cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 600 -LE slow)
      ;;
    tsan)
      cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEEPDIST_BUILD_TESTS=ON \
        -DDEEPDIST_MPI=OFF -DDEEPDIST_PYTHON=OFF \
        -DCMAKE_CXX_FLAGS="-O1 -fsanitize=thread -fno-omit-frame-pointer" >/dev/null
      cmake --build build-tsan -j "$jobs" \
        --target local_store_test replica_test deepdist_test trainer_test
      (cd build-tsan &&
        TSAN_OPTIONS="suppressions=$root/tests/tsan.supp halt_on_error=1 history_size=4 print_suppressions=1" \
          ctest --output-on-failure -j "$jobs" --timeout 600 \
          -R '^(LocalStoreTest|ReplicaTest|RowsAndFull/ReplicaRoundsTest|DeepDistTest|DeepDistScopeTest|DeepDistScopeDeathTest|TrainerTest)\.')
      ;;
    *)
      echo "test.sh: unknown configuration '$config' (release, asan, tsan)" >&2
      exit 2
      ;;
  esac
done
