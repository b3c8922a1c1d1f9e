// Micro-benchmark of the word2vec kernel: one sentence of random word ids
// over random tables, skip-gram (per pair and with negatives shared across
// each window) and CBOW (per window as word2vec.c, and batched), at several
// dimensions, by SGD and by AdaGrad in place. Reports corpus words per second of one thread and the
// kernel's GFLOP/s: per (input, target) pair a dot product and two axpys (6 x dim flops), per input
// the axpy of its error (2 x dim; CBOW 3 x dim with the sum into the window's mean).
//
// Two ceilings of one core come beside it: BM_FmaPeak, fused multiply-adds
// on registers only (what the FPU can do), and BM_DotL1, dot products of rows
// that sit in L1 (what a kernel that loads both operands of every multiply
// can do).
//
//   cmake -S . -B build -DDEEPDIST_BUILD_BENCH=ON && cmake --build build --target kernel_bench
//   build/bench/kernel_bench
#include <benchmark/benchmark.h>

#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "deepdist/model.h"
#include "src/word2vec/negative_table.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::word2vec {
namespace {

constexpr size_t kVocab = 50000;
constexpr size_t kSentence = 1000;

void BM_TrainSentence(benchmark::State& state) {
  const bool cbow = state.range(0) == 1 || state.range(0) == 3;
  const bool shared = state.range(0) >= 2;
  const size_t dim = static_cast<size_t>(state.range(1));
  const bool adagrad = state.range(2) == 1;
  std::vector<uint64_t> counts(kVocab);
  for (size_t i = 0; i < kVocab; ++i) counts[i] = 1000000 / (i + 1) + 1;  // Zipf-like.
  const NegativeTable negatives(counts);
  Table in("in", kVocab, dim), out("out", kVocab, dim);
  // AdaGrad's accumulators (Hogwild AdaGrad), laid out as the rows.
  Table in_state("in_state", kVocab, dim), out_state("out_state", kVocab, dim);
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
    RowSource rows{in.data(), out.data(), nullptr};
    if (adagrad) {
      rows.in_state = in_state.data();
      rows.out_state = out_state.data();
    }
    TrainSentence(config, words.data(), words.size(), 0.01f, &rng, rows, scratch.data(), &stats);
    benchmark::ClobberMemory();
  }
  // Per pair: a dot product, the error's axpy and the target's (6 x dim).
  // Per input: skip-gram adds its error (2 x dim); CBOW also sums the row
  // into the window's mean (3 x dim).
  const double flops = static_cast<double>(stats.pairs) * 6.0 * dim +
                       static_cast<double>(stats.inputs) * (cbow ? 3.0 : 2.0) * dim;
  state.counters["words/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kSentence), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  const char* names[] = {"sg pair ", "cbow window ", "sg batched ", "cbow batched "};
  state.SetLabel(std::string(names[state.range(0)]) + (adagrad ? "adagrad " : "") + KernelTarget());
}

#if defined(__x86_64__)
// The ceilings are measured with AVX-512 where the CPU has it (the widest
// target the kernel dispatches to here), else they are skipped.
#define DEEPDIST_AVX512 __attribute__((target("avx512f,fma")))

// Fused multiply-adds on 12 independent register accumulators: the FPU's
// ceiling for one core.
DEEPDIST_AVX512 __attribute__((noinline)) float FmaLoop(int steps, float seed) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(seed * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int step = 0; step < steps; ++step) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

void BM_FmaPeak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) return state.SkipWithError("no AVX-512");
  constexpr int kSteps = 10000;
  float seed = 1e-3f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(seed);
    seed = FmaLoop(kSteps, seed) * 1e-9f + 1e-3f;
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 12 * 16 * 2.0 / 1e9,
                         benchmark::Counter::kIsRate);
}

// One dot product of two rows, as the per-pair kernel scores a pair: two
// loads per multiply-add, then a horizontal sum.
DEEPDIST_AVX512 float DotRows(const float* x, const float* y, size_t stride) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 32 <= stride; k += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(y + k + 16), s1);
  }
  for (; k < stride; k += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k), s0);
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// Dot products of rows that stay in L1: the ceiling of a kernel built from
// vector-vector products (counting dim, not the padded stride).
void BM_DotL1(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) return state.SkipWithError("no AVX-512");
  const size_t dim = static_cast<size_t>(state.range(0));
  Table rows("rows", 8, dim);
  for (size_t r = 0; r < 8; ++r) {
    for (size_t k = 0; k < dim; ++k) rows.row(r)[k] = 1e-3f * static_cast<float>(r + k);
  }
  float sink = 0;
  for (auto _ : state) {
    for (size_t r = 0; r + 1 < 8; ++r) sink += DotRows(rows.row(r), rows.row(r + 1), rows.stride());
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 7 * 2.0 * dim / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FmaPeak);
BENCHMARK(BM_DotL1)->Arg(100)->Arg(300);
#endif  // __x86_64__

BENCHMARK(BM_TrainSentence)
    // kernel: 0 skip-gram per pair, 1 CBOW per window, 2 skip-gram batched,
    // 3 CBOW batched.
    // rule: 0 SGD, 1 AdaGrad in place.
    ->ArgNames({"kernel", "dim", "rule"})
    ->ArgsProduct({{0, 1, 2, 3}, {100, 300}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace deepdist::word2vec

BENCHMARK_MAIN();
