// Micro-benchmark of the quantized wires' row codec (src/store/wire.h): what
// an owner does per row it sends a client (EncodeDifference), what a client
// does per row it gets (decoding, or decoding and adding to its replica), and
// what a replica does per row it pushes (RoundQuantizedRow). Rows of word2vec's
// default dim (100) and of 300, 4 and 8 bits, over a working set of 4,096 rows
// (1.6 MB at dim 100: out of L1 and L2, as replica rows are). Reports rows/s
// and values/s of one thread.
//
//   cmake -S . -B build -DDEEPDIST_BUILD_BENCH=ON && cmake --build build --target wire_bench
//   build/bench/wire_bench
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "src/store/wire.h"

namespace deepdist {
namespace {

constexpr size_t kRows = 4096;

struct Rows {
  Rows(size_t dim, int bits) : dim(dim), bits(bits), row_bytes(QuantizedRowBytes(dim, bits)) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    value.resize(kRows * dim);
    base.resize(kRows * dim);
    for (size_t i = 0; i < value.size(); ++i) {
      base[i] = normal(rng);
      value[i] = base[i] + 0.1f * normal(rng);
    }
    packed.resize(kRows * row_bytes);
    for (size_t r = 0; r < kRows; ++r) {
      EncodeQuantizedRow(&value[r * dim], dim, bits, &packed[r * row_bytes]);
    }
  }
  size_t dim;
  int bits;
  size_t row_bytes;
  std::vector<float> value, base;
  std::string packed;
};

void Count(benchmark::State& state, size_t dim) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRows));
  state.counters["values/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kRows * dim), benchmark::Counter::kIsRate);
}

void BM_EncodeDifference(benchmark::State& state) {
  const auto dim = static_cast<size_t>(state.range(0));
  Rows rows(dim, static_cast<int>(state.range(1)));
  std::vector<float> base = rows.base;
  for (auto _ : state) {
    for (size_t r = 0; r < kRows; ++r) {
      EncodeDifference(&rows.value[r * dim], &base[r * dim], dim, rows.bits,
                       &rows.packed[r * rows.row_bytes]);
    }
    benchmark::ClobberMemory();
  }
  Count(state, dim);
}

void BM_DecodeQuantizedRow(benchmark::State& state) {
  const auto dim = static_cast<size_t>(state.range(0));
  Rows rows(dim, static_cast<int>(state.range(1)));
  for (auto _ : state) {
    for (size_t r = 0; r < kRows; ++r) {
      DecodeQuantizedRow(&rows.packed[r * rows.row_bytes], dim, rows.bits, &rows.base[r * dim]);
    }
    benchmark::ClobberMemory();
  }
  Count(state, dim);
}

void BM_RoundQuantizedRow(benchmark::State& state) {
  const auto dim = static_cast<size_t>(state.range(0));
  Rows rows(dim, static_cast<int>(state.range(1)));
  for (auto _ : state) {
    state.PauseTiming();
    rows.base = rows.value;
    state.ResumeTiming();
    for (size_t r = 0; r < kRows; ++r) RoundQuantizedRow(&rows.base[r * dim], dim, rows.bits);
    benchmark::ClobberMemory();
  }
  Count(state, dim);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int dim : {100, 300}) {
    for (int bits : {4, 8}) b->Args({dim, bits});
  }
  b->ArgNames({"dim", "bits"});
}

BENCHMARK(BM_EncodeDifference)->Apply(Shapes);
BENCHMARK(BM_DecodeQuantizedRow)->Apply(Shapes);
BENCHMARK(BM_RoundQuantizedRow)->Apply(Shapes);

}  // namespace
}  // namespace deepdist

BENCHMARK_MAIN();
