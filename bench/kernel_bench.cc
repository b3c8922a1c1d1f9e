// Micro-benchmark of the word2vec kernel: one sentence of random word ids
// over random tables, skip-gram (per pair and with negatives shared across
// each window) and CBOW, at several dimensions. Reports
// corpus words per second of one thread and the kernel's GFLOP/s, counting
// per (input, target) pair a dot product and two axpys (6 x dim flops) and
// per input the final axpy of its error (2 x dim).
//
//   cmake -S . -B build -DDEEPDIST_BUILD_BENCH=ON && cmake --build build --target kernel_bench
//   build/bench/kernel_bench
#include <benchmark/benchmark.h>

#include <vector>

#include "deepdist/model.h"
#include "src/word2vec/negative_table.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::word2vec {
namespace {

constexpr size_t kVocab = 50000;
constexpr size_t kSentence = 1000;

void BM_TrainSentence(benchmark::State& state) {
  const bool cbow = state.range(0) == 1;
  const bool shared = state.range(0) == 2;
  const size_t dim = static_cast<size_t>(state.range(1));
  std::vector<uint64_t> counts(kVocab);
  for (size_t i = 0; i < kVocab; ++i) counts[i] = 1000000 / (i + 1) + 1;  // Zipf-like.
  const NegativeTable negatives(counts);
  Table in("in", kVocab, dim), out("out", kVocab, dim);
  uint64_t init = 1;
  for (size_t r = 0; r < kVocab; ++r) {
    for (size_t k = 0; k < dim; ++k) {
      in.row(r)[k] = (static_cast<float>(NextRandom(&init) >> 40) / 16777216.0f - 0.5f) / dim;
      out.row(r)[k] = (static_cast<float>(NextRandom(&init) >> 40) / 16777216.0f - 0.5f) / dim;
    }
  }
  std::vector<int32_t> words(kSentence);
  for (int32_t& w : words) w = negatives.Sample(NextRandom(&init));  // Frequent words recur.
  KernelConfig config;
  config.cbow = cbow;
  config.window = 5;
  config.negative = 5;
  config.stride = in.stride();
  config.negatives = &negatives;
  config.shared_negatives = shared;
  std::vector<float> scratch(ScratchFloats(config));
  uint64_t rng = 7;
  KernelStats stats;
  for (auto _ : state) {
    TrainSentence(config, words.data(), words.size(), 0.01f, &rng, {in.data(), out.data(), nullptr},
                  scratch.data(), &stats);
    benchmark::ClobberMemory();
  }
  const double inputs = cbow ? static_cast<double>(state.iterations() * kSentence)
                             : static_cast<double>(stats.pairs) / (config.negative + 1);
  const double flops = static_cast<double>(stats.pairs) * 6.0 * dim + inputs * 2.0 * dim;
  state.counters["words/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kSentence), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(cbow     ? "cbow "
                             : shared ? "sg batched "
                                      : "sg pair ") +
                 KernelTarget());
}

BENCHMARK(BM_TrainSentence)
    ->ArgNames({"kernel", "dim"})  // kernel: 0 skip-gram per pair, 1 CBOW, 2 skip-gram batched.
    ->ArgsProduct({{0, 1, 2}, {100, 300}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace deepdist::word2vec

BENCHMARK_MAIN();
