// Compiled once per SIMD target by Highway's foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/word2vec/sgns_kernel.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include "deepdist/model.h"
#include "deepdist/status.h"
#include "src/word2vec/sgns_kernel.h"

#ifndef DEEPDIST_SGNS_TABLES_ONCE
#define DEEPDIST_SGNS_TABLES_ONCE
#include <algorithm>
#include <cmath>
#include <span>

namespace deepdist::word2vec {
namespace {

// word2vec.c's sigmoid table: scores beyond +-kMaxExp saturate.
constexpr float kMaxExp = 6.0f;
constexpr int kTableSize = 1024;
// Hierarchical softmax scores this many nodes of a path at once.
constexpr size_t kHsBlock = 64;

struct SigmoidTables {
  float sigmoid[kTableSize + 1];
  float log_sigmoid[kTableSize + 1];  // log(sigmoid(x)).
  SigmoidTables() {
    for (int i = 0; i <= kTableSize; ++i) {
      const double x = (static_cast<double>(i) / kTableSize * 2.0 - 1.0) * kMaxExp;
      sigmoid[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      log_sigmoid[i] = static_cast<float>(-std::log1p(std::exp(-x)));
    }
  }
};

const SigmoidTables& Tables() {
  static const SigmoidTables tables;
  return tables;
}

inline int TableIndex(float f) {
  return static_cast<int>((f + kMaxExp) * (kTableSize / (2.0f * kMaxExp)));
}

}  // namespace
}  // namespace deepdist::word2vec
#endif  // DEEPDIST_SGNS_TABLES_ONCE

HWY_BEFORE_NAMESPACE();
namespace deepdist::word2vec {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// n is a multiple of 16, so of every target's lane count.
HWY_INLINE float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
    sum1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), sum1);
  }
  for (; i < n; i += lanes) sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
}

// y += alpha * x.
HWY_INLINE void Axpy(float alpha, const float* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto a = hn::Set(d, alpha);
  for (size_t i = 0; i < n; i += lanes) {
    hn::StoreU(hn::MulAdd(a, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
}

// AdaGrad's step in place, for the change d = a * x (a gradient times -1, so
// the row moves along it): G += d^2; row += lr * d / sqrt(max(G, eps^2)), per
// value, 1 / sqrt being the hardware's estimate (relative error under 2^-14
// with AVX-512, 1.5 x 2^-12 with AVX2 and SSE4). AdaGrad::ApplyRow divides
// by sqrt(G) + eps exactly; the in-place step differs from it by those
// relative errors (and eps / sqrt(G), nothing where G is not tiny): well
// below the noise of a stochastic step, and the division and a Newton
// refinement cost a twentieth of the run's words/s (docs/BENCHMARKS.md).
constexpr float kAdaGradEpsilon = 1e-8f;
template <class D, class V>
HWY_INLINE V AdaGradStep(D d, V g, float* HWY_RESTRICT state, V lr) {
  const auto sum = hn::MulAdd(g, g, hn::LoadU(d, state));
  hn::StoreU(sum, d, state);
  // Where G is 0, so is g (G holds g^2): the floor keeps 0 * inf away.
  const auto x = hn::Max(sum, hn::Set(d, kAdaGradEpsilon * kAdaGradEpsilon));
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  // No hardware estimate there (Highway's is a coarser bit trick): exact.
  return hn::Div(hn::Mul(lr, g), hn::Sqrt(x));
#else
  return hn::Mul(hn::Mul(lr, g), hn::ApproximateReciprocalSqrt(x));
#endif
}

HWY_INLINE void AdaGradAxpy(float a, const float* HWY_RESTRICT x, float* HWY_RESTRICT row,
                            float* HWY_RESTRICT state, float lr, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  const auto vlr = hn::Set(d, lr);
  for (size_t i = 0; i < n; i += lanes) {
    const auto g = hn::Mul(va, hn::LoadU(d, x + i));
    hn::StoreU(hn::Add(hn::LoadU(d, row + i), AdaGradStep(d, g, state + i, vlr)), d, row + i);
  }
}

// row += a * x: by SGD (the rate is in a), or by AdaGrad at rate lr with the
// row's accumulators `state`.
template <bool kAdaGrad>
HWY_INLINE void Move(float a, const float* HWY_RESTRICT x, float* HWY_RESTRICT row,
                     float* HWY_RESTRICT state, float lr, size_t n) {
  if constexpr (kAdaGrad) {
    AdaGradAxpy(a, x, row, state, lr, n);
  } else {
    Axpy(a, x, row, n);
  }
}

HWY_INLINE void Zero(float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  for (size_t i = 0; i < n; i += hn::Lanes(d)) hn::StoreU(hn::Zero(d), d, y + i);
}

// One target of one input vector: the score, the gradient, the updates.
// Adds g * out_row to `error` and g * input to out_row.
template <bool kAdaGrad>
HWY_INLINE void TrainTarget(const float* HWY_RESTRICT input, float* HWY_RESTRICT out_row,
                            float* HWY_RESTRICT out_state, float* HWY_RESTRICT error, float label,
                            float alpha, float lr, size_t n, KernelStats* stats) {
  const SigmoidTables& t = Tables();
  const float f = Dot(input, out_row, n);
  ++stats->pairs;
  // Saturated scores (|f| >= 6) are left alone, as gensim does: the sigmoid
  // table has nothing finer to say there, and word2vec.c's full-rate push on
  // such pairs only adds noise.
  if (f >= kMaxExp || f <= -kMaxExp) {
    const bool wrong = (f >= kMaxExp) != (label > 0);
    stats->loss += wrong ? -t.log_sigmoid[0] : 0.0;
    return;
  }
  const int idx = TableIndex(f);
  const float g = (label - t.sigmoid[idx]) * alpha;
  stats->loss -= label > 0 ? t.log_sigmoid[idx] : t.log_sigmoid[kTableSize - idx];
  Axpy(g, out_row, error, n);
  Move<kAdaGrad>(g, input, out_row, out_state, lr, n);
}

// Dot products of x with rows[0, N), N <= 8: each vector of x is loaded once
// for all N rows, so a score costs about one load per multiply-add instead
// of two.
template <int N>
HWY_INLINE void DotBlock(const float* HWY_RESTRICT x, float* const* rows, size_t n, float* out) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  auto a4 = hn::Zero(d), a5 = hn::Zero(d), a6 = hn::Zero(d), a7 = hn::Zero(d);
  for (size_t i = 0; i < n; i += lanes) {
    const auto v = hn::LoadU(d, x + i);
    a0 = hn::MulAdd(v, hn::LoadU(d, rows[0] + i), a0);
    if constexpr (N > 1) a1 = hn::MulAdd(v, hn::LoadU(d, rows[1] + i), a1);
    if constexpr (N > 2) a2 = hn::MulAdd(v, hn::LoadU(d, rows[2] + i), a2);
    if constexpr (N > 3) a3 = hn::MulAdd(v, hn::LoadU(d, rows[3] + i), a3);
    if constexpr (N > 4) a4 = hn::MulAdd(v, hn::LoadU(d, rows[4] + i), a4);
    if constexpr (N > 5) a5 = hn::MulAdd(v, hn::LoadU(d, rows[5] + i), a5);
    if constexpr (N > 6) a6 = hn::MulAdd(v, hn::LoadU(d, rows[6] + i), a6);
    if constexpr (N > 7) a7 = hn::MulAdd(v, hn::LoadU(d, rows[7] + i), a7);
  }
  out[0] = hn::GetLane(hn::SumOfLanes(d, a0));
  if constexpr (N > 1) out[1] = hn::GetLane(hn::SumOfLanes(d, a1));
  if constexpr (N > 2) out[2] = hn::GetLane(hn::SumOfLanes(d, a2));
  if constexpr (N > 3) out[3] = hn::GetLane(hn::SumOfLanes(d, a3));
  if constexpr (N > 4) out[4] = hn::GetLane(hn::SumOfLanes(d, a4));
  if constexpr (N > 5) out[5] = hn::GetLane(hn::SumOfLanes(d, a5));
  if constexpr (N > 6) out[6] = hn::GetLane(hn::SumOfLanes(d, a6));
  if constexpr (N > 7) out[7] = hn::GetLane(hn::SumOfLanes(d, a7));
}

// out[j] = x . rows[j] for j in [0, count), in blocks of up to 8 rows.
HWY_INLINE void DotMany(const float* HWY_RESTRICT x, float* const* rows, int count, size_t n,
                        float* out) {
  int j = 0;
  for (; j + 8 <= count; j += 8) DotBlock<8>(x, rows + j, n, out + j);
  switch (count - j) {
    case 7:
      DotBlock<7>(x, rows + j, n, out + j);
      break;
    case 6:
      DotBlock<6>(x, rows + j, n, out + j);
      break;
    case 5:
      DotBlock<5>(x, rows + j, n, out + j);
      break;
    case 4:
      DotBlock<4>(x, rows + j, n, out + j);
      break;
    case 3:
      DotBlock<3>(x, rows + j, n, out + j);
      break;
    case 2:
      DotBlock<2>(x, rows + j, n, out + j);
      break;
    case 1:
      DotBlock<1>(x, rows + j, n, out + j);
      break;
    default:
      break;
  }
}

// dst (+)= sum over i in [0, count) of coef[i * coef_stride] * rows[i], kept
// in registers: one load per multiply-add and one store per vector, where a
// chain of axpys loads and stores dst for every row. Four vectors of dst are
// summed at once, so that four independent multiply-add chains hide each
// other's latency. With kAdaGrad, the sum is a change that moves dst by
// AdaGrad's step (AdaGradStep, with dst's accumulators `state`) instead.
template <int kVectors, bool kAdaGrad>
HWY_INLINE void CombineVectors(const float* coef, int coef_stride, float* const* rows, int count,
                               size_t k, bool accumulate, float* HWY_RESTRICT dst,
                               float* HWY_RESTRICT state, float lr) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  accumulate = accumulate && !kAdaGrad;
  auto a0 = accumulate ? hn::LoadU(d, dst + k) : hn::Zero(d);
  auto a1 = a0, a2 = a0, a3 = a0;
  if constexpr (kVectors > 1) a1 = accumulate ? hn::LoadU(d, dst + k + lanes) : hn::Zero(d);
  if constexpr (kVectors > 2) a2 = accumulate ? hn::LoadU(d, dst + k + 2 * lanes) : hn::Zero(d);
  if constexpr (kVectors > 3) a3 = accumulate ? hn::LoadU(d, dst + k + 3 * lanes) : hn::Zero(d);
  for (int i = 0; i < count; ++i) {
    const auto c = hn::Set(d, coef[i * coef_stride]);
    const float* row = rows[i] + k;
    a0 = hn::MulAdd(c, hn::LoadU(d, row), a0);
    if constexpr (kVectors > 1) a1 = hn::MulAdd(c, hn::LoadU(d, row + lanes), a1);
    if constexpr (kVectors > 2) a2 = hn::MulAdd(c, hn::LoadU(d, row + 2 * lanes), a2);
    if constexpr (kVectors > 3) a3 = hn::MulAdd(c, hn::LoadU(d, row + 3 * lanes), a3);
  }
  if constexpr (kAdaGrad) {
    const auto vlr = hn::Set(d, lr);
    auto move = [&](size_t at, decltype(a0) g) {
      hn::StoreU(hn::Add(hn::LoadU(d, dst + at), AdaGradStep(d, g, state + at, vlr)), d, dst + at);
    };
    move(k, a0);
    if constexpr (kVectors > 1) move(k + lanes, a1);
    if constexpr (kVectors > 2) move(k + 2 * lanes, a2);
    if constexpr (kVectors > 3) move(k + 3 * lanes, a3);
    return;
  }
  hn::StoreU(a0, d, dst + k);
  if constexpr (kVectors > 1) hn::StoreU(a1, d, dst + k + lanes);
  if constexpr (kVectors > 2) hn::StoreU(a2, d, dst + k + 2 * lanes);
  if constexpr (kVectors > 3) hn::StoreU(a3, d, dst + k + 3 * lanes);
}

template <bool kAdaGrad = false>
HWY_INLINE void Combine(const float* coef, int coef_stride, float* const* rows, int count, size_t n,
                        bool accumulate, float* HWY_RESTRICT dst,
                        float* HWY_RESTRICT state = nullptr, float lr = 0.0f) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t k = 0;
  for (; k + 4 * lanes <= n; k += 4 * lanes) {
    CombineVectors<4, kAdaGrad>(coef, coef_stride, rows, count, k, accumulate, dst, state, lr);
  }
  switch ((n - k) / lanes) {
    case 3:
      CombineVectors<3, kAdaGrad>(coef, coef_stride, rows, count, k, accumulate, dst, state, lr);
      break;
    case 2:
      CombineVectors<2, kAdaGrad>(coef, coef_stride, rows, count, k, accumulate, dst, state, lr);
      break;
    case 1:
      CombineVectors<1, kAdaGrad>(coef, coef_stride, rows, count, k, accumulate, dst, state, lr);
      break;
    default:
      break;
  }
}

// Rows of the input and output tables by word id, through the replica's
// remap where there is one.
struct Rows {
  float* in;
  float* out;
  const int32_t* remap;
  size_t stride;
  uint8_t* touched_out;  // See RowSource (the input rows are marked per sentence).
  float* in_state;       // AdaGrad's accumulators, laid out as the rows (or null).
  float* out_state;
  // A negative's output row: marked as changed.
  void MarkOut(int32_t w) const {
    if (touched_out != nullptr) touched_out[w] = 1;
  }
  float* In(int32_t w) const { return in + static_cast<size_t>(remap ? remap[w] : w) * stride; }
  float* Out(int32_t w) const { return out + static_cast<size_t>(remap ? remap[w] : w) * stride; }
  // The accumulators of In(w) and Out(w); only where they exist.
  float* InState(int32_t w) const {
    return in_state + static_cast<size_t>(remap ? remap[w] : w) * stride;
  }
  float* OutState(int32_t w) const {
    return out_state + static_cast<size_t>(remap ? remap[w] : w) * stride;
  }
};

// Asks for a row's cache lines ahead of its use.
HWY_INLINE void PrefetchRow(const float* row, size_t stride) {
  for (size_t k = 0; k < stride; k += 16) hwy::Prefetch(row + k);
}

// Hands out pieces of the caller's scratch buffer, each 64-byte aligned.
class ScratchCarver {
 public:
  explicit ScratchCarver(float* base) : next_(reinterpret_cast<uintptr_t>(base)) {}
  template <typename T>
  T* Take(size_t count) {
    next_ = (next_ + 63) & ~static_cast<uintptr_t>(63);
    T* p = reinterpret_cast<T*>(next_);
    next_ += count * sizeof(T);
    return p;
  }

 private:
  uintptr_t next_;
};

// The reduced random window around pos: word2vec.c's b = rand % window.
HWY_INLINE void DrawReducedWindow(const KernelConfig& c, int64_t pos, int64_t len, uint64_t* rng,
                                  int64_t* lo, int64_t* hi) {
  const int reduce = static_cast<int>(NextRandom(rng) % static_cast<uint64_t>(c.window));
  *lo = std::max<int64_t>(0, pos - (c.window - reduce));
  *hi = std::min<int64_t>(len - 1, pos + (c.window - reduce));
}

// The gradient of one (input, target) score for label 1 (positive) or 0,
// with the loss and pair counted; 0 where the score saturates.
HWY_INLINE float PairGradient(float f, bool positive, float alpha, KernelStats* stats) {
  const SigmoidTables& t = Tables();
  ++stats->pairs;
  if (f >= kMaxExp || f <= -kMaxExp) {
    stats->loss += ((f >= kMaxExp) != positive) ? -t.log_sigmoid[0] : 0.0;
    return 0.0f;
  }
  const int idx = TableIndex(f);
  stats->loss -= positive ? t.log_sigmoid[idx] : t.log_sigmoid[kTableSize - idx];
  return ((positive ? 1.0f : 0.0f) - t.sigmoid[idx]) * alpha;
}

// word2vec.c's updates, pair by pair (--kernel pair): skip-gram trains each
// context vector against the centre word and its own negatives; CBOW trains
// the mean of the context vectors. The reference for the batched kernels.
template <bool kAdaGrad>
void TrainPlain(const KernelConfig& c, const int32_t* words, int64_t len, float alpha, float lr,
                uint64_t* rng, const Rows& r, float* scratch, KernelStats* stats) {
  const size_t n = r.stride;
  ScratchCarver carve(scratch);
  float* error = carve.Take<float>(n);
  float* hidden = carve.Take<float>(n);
  // One input vector against the word (label 1) and its negatives (label 0);
  // leaves the input's accumulated change in `error`.
  auto out_state = [&](int32_t w) { return kAdaGrad ? r.OutState(w) : nullptr; };
  auto in_state = [&](int32_t w) { return kAdaGrad ? r.InState(w) : nullptr; };
  float** nodes = c.tree != nullptr ? carve.Take<float*>(kHsBlock) : nullptr;
  float* node_grad = c.tree != nullptr ? carve.Take<float>(kHsBlock) : nullptr;
  auto train_targets = [&](const float* input, int32_t word) {
    Zero(error, n);
    if (c.tree != nullptr) {
      // Hierarchical softmax: the inner nodes on the word's path, each
      // towards label 1 - code (word2vec.c's convention). A path's nodes
      // are distinct rows and the input does not move until the path is
      // done, so word2vec.c's node-by-node loop equals scoring the nodes
      // together, then gathering the input's change from the old node rows
      // and moving the nodes: one pass over the input for up to kHsBlock
      // scores, and one over error for their sum.
      const std::span<const int32_t> points = c.tree->Points(word);
      const std::span<const uint8_t> codes = c.tree->Codes(word);
      for (size_t first = 0; first < points.size(); first += kHsBlock) {
        const int count = static_cast<int>(std::min(kHsBlock, points.size() - first));
        for (int d = 0; d < count; ++d) {
          r.MarkOut(points[first + d]);
          nodes[d] = r.Out(points[first + d]);
        }
        DotMany(input, nodes, count, n, node_grad);
        for (int d = 0; d < count; ++d) {
          node_grad[d] = PairGradient(node_grad[d], codes[first + d] == 0, alpha, stats);
        }
        Combine(node_grad, 1, nodes, count, n, /*accumulate=*/first > 0, error);
        for (int d = 0; d < count; ++d) {
          if (node_grad[d] != 0.0f) {
            Move<kAdaGrad>(node_grad[d], input, nodes[d], out_state(points[first + d]), lr, n);
          }
        }
      }
      return;
    }
    for (int d = 0; d <= c.negative; ++d) {
      int32_t target = word;
      if (d > 0) {
        target = c.negatives->Sample(NextRandom(rng));
        if (target == word) continue;
        r.MarkOut(target);
      }
      TrainTarget<kAdaGrad>(input, r.Out(target), out_state(target), error, d == 0 ? 1.0f : 0.0f,
                            alpha, lr, n, stats);
    }
  };
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    int64_t lo, hi;
    DrawReducedWindow(c, pos, len, rng, &lo, &hi);
    if (c.cbow) {
      Zero(hidden, n);
      int count = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        Axpy(1.0f, r.In(words[p]), hidden, n);
        ++count;
      }
      if (count == 0) continue;
      stats->inputs += static_cast<uint64_t>(count);
      const float inv = 1.0f / static_cast<float>(count);
      for (size_t i = 0; i < n; ++i) hidden[i] *= inv;
      train_targets(hidden, word);
      for (int64_t p = lo; p <= hi; ++p) {
        if (p != pos) Move<kAdaGrad>(1.0f, error, r.In(words[p]), in_state(words[p]), lr, n);
      }
      continue;
    }
    for (int64_t p = lo; p <= hi; ++p) {
      if (p == pos) continue;
      float* input = r.In(words[p]);
      ++stats->inputs;
      train_targets(input, word);
      Move<kAdaGrad>(1.0f, error, input, in_state(words[p]), lr, n);
    }
  }
}

// Skip-gram for one window with shared negatives: scores S = inputs x
// targets, gradients G = (label - sigmoid(S)) * alpha, then every input moves
// by G x targets and every target by G' x inputs, all from the old values:
// the targets' changes are computed first (from the old inputs), the inputs
// then move (reading the old targets), and the targets last.
// With AdaGrad, each input and each target takes one AdaGrad step for the
// window (a row present twice takes two, in order), along the same changes.
template <bool kAdaGrad>
HWY_INLINE void TrainWindowShared(float* const* inputs, float* const* input_states, int num_inputs,
                                  float* const* targets, float* const* target_states,
                                  int num_targets, float alpha, float lr, size_t n,
                                  float* HWY_RESTRICT grad, float* HWY_RESTRICT delta_out,
                                  KernelStats* stats) {
  for (int i = 0; i < num_inputs; ++i) {
    float* g = grad + i * num_targets;
    DotMany(inputs[i], targets, num_targets, n, g);
    for (int j = 0; j < num_targets; ++j) g[j] = PairGradient(g[j], j == 0, alpha, stats);
  }
  for (int j = 0; j < num_targets; ++j) {
    Combine(grad + j, num_targets, inputs, num_inputs, n, false,
            delta_out + static_cast<size_t>(j) * n);
  }
  for (int i = 0; i < num_inputs; ++i) {
    if constexpr (kAdaGrad) {
      Combine<true>(grad + i * num_targets, 1, targets, num_targets, n, false, inputs[i],
                    input_states[i], lr);
    } else {
      Combine(grad + i * num_targets, 1, targets, num_targets, n, true, inputs[i]);
    }
  }
  for (int j = 0; j < num_targets; ++j) {
    Move<kAdaGrad>(1.0f, delta_out + static_cast<size_t>(j) * n, targets[j],
                   kAdaGrad ? target_states[j] : nullptr, lr, n);
  }
}

// Skip-gram with negatives shared across each window (--kernel batched).
// Each window is drawn (its reduced size, then its negatives: the order of a
// plain loop, so PlanSentence holds) one position ahead, and the rows it
// will touch are prefetched while the current window trains: the output rows
// of random negatives are where the kernel would otherwise wait on memory.
template <bool kAdaGrad>
void TrainSkipGramShared(const KernelConfig& c, const int32_t* words, int64_t len, float alpha,
                         float lr, uint64_t* rng, const Rows& r, float* scratch,
                         KernelStats* stats) {
  const size_t n = r.stride;
  const int max_inputs = 2 * c.window;
  const int max_targets = c.negative + 1;
  ScratchCarver carve(scratch);
  float** inputs = carve.Take<float*>(max_inputs);
  float** targets = carve.Take<float*>(max_targets);
  float* grad = carve.Take<float>(static_cast<size_t>(max_inputs) * max_targets);
  float* delta_out = carve.Take<float>(static_cast<size_t>(max_targets) * n);
  float** input_states = kAdaGrad ? carve.Take<float*>(max_inputs) : nullptr;
  float** target_states = kAdaGrad ? carve.Take<float*>(max_targets) : nullptr;
  struct Window {
    int64_t lo = 0, hi = -1;
    int num_targets = 0;  // 0: no context, nothing to train.
    int32_t* targets = nullptr;
  };
  Window windows[2];
  windows[0].targets = carve.Take<int32_t>(max_targets);
  windows[1].targets = carve.Take<int32_t>(max_targets);
  auto draw = [&](int64_t pos, Window* w) {
    DrawReducedWindow(c, pos, len, rng, &w->lo, &w->hi);
    w->num_targets = 0;
    if (w->hi == w->lo) return;
    const int32_t word = words[pos];
    w->targets[w->num_targets++] = word;
    for (int d = 1; d <= c.negative; ++d) {
      const int32_t target = c.negatives->Sample(NextRandom(rng));
      if (target != word) {
        w->targets[w->num_targets++] = target;
        r.MarkOut(target);
      }
    }
    for (int j = 0; j < w->num_targets; ++j) PrefetchRow(r.Out(w->targets[j]), n);
    PrefetchRow(r.In(words[w->hi]), n);
    if constexpr (kAdaGrad) {
      for (int j = 0; j < w->num_targets; ++j) PrefetchRow(r.OutState(w->targets[j]), n);
      PrefetchRow(r.InState(words[w->hi]), n);
    }
  };
  if (len == 0) return;
  Window* ahead = &windows[0];
  draw(0, ahead);
  for (int64_t pos = 0; pos < len; ++pos) {
    const Window& cur = *ahead;
    ahead = ahead == &windows[0] ? &windows[1] : &windows[0];
    if (pos + 1 < len) draw(pos + 1, ahead);
    if (cur.num_targets == 0) continue;
    int num_inputs = 0;
    for (int64_t p = cur.lo; p <= cur.hi; ++p) {
      if (p == pos) continue;
      if constexpr (kAdaGrad) input_states[num_inputs] = r.InState(words[p]);
      inputs[num_inputs++] = r.In(words[p]);
    }
    for (int j = 0; j < cur.num_targets; ++j) {
      targets[j] = r.Out(cur.targets[j]);
      if constexpr (kAdaGrad) target_states[j] = r.OutState(cur.targets[j]);
    }
    stats->inputs += static_cast<uint64_t>(num_inputs);
    TrainWindowShared<kAdaGrad>(inputs, input_states, num_inputs, targets, target_states,
                                cur.num_targets, alpha, lr, n, grad, delta_out, stats);
  }
}

// CBOW with shared negatives (--kernel batched): cbow_batch consecutive
// windows with a context gather their mean context vectors, then score
// against their own centre words and one shared draw of negatives, every
// score from the old rows. Each window's error goes back to its context
// rows, each centre row moves by g * hidden, and each negative row by the sum
// over windows of g * hidden. A negative that is a window's own centre word
// is no negative for that window. Draws happen one window ahead, in the
// order of the plain loop (a batch's negatives right after the draw of its
// last window), so the rows can be prefetched.
template <bool kAdaGrad>
void TrainCbowShared(const KernelConfig& c, const int32_t* words, int64_t len, float alpha,
                     float lr, uint64_t* rng, const Rows& r, float* scratch, KernelStats* stats) {
  const size_t n = r.stride;
  const int batch = std::clamp(c.cbow_batch, 1, kMaxCbowBatch);
  const int num_negs = c.negative;
  const int cols = num_negs + 1;
  ScratchCarver carve(scratch);
  float* hidden = carve.Take<float>(static_cast<size_t>(batch) * n);
  float* error = carve.Take<float>(static_cast<size_t>(batch) * n);
  float* delta = carve.Take<float>(static_cast<size_t>(num_negs) * n);
  float** targets = carve.Take<float*>(cols);  // [centre, negatives...]
  float** hidden_rows = carve.Take<float*>(batch);
  float* grad = carve.Take<float>(static_cast<size_t>(batch) * cols);
  int32_t* neg_ids = carve.Take<int32_t>(2 * static_cast<size_t>(num_negs));
  for (int b = 0; b < batch; ++b) hidden_rows[b] = hidden + static_cast<size_t>(b) * n;

  struct Slot {
    int64_t lo, hi, pos;
  } slots[kMaxCbowBatch];
  int size = 0;
  struct Ahead {
    int64_t lo = 0, hi = -1;
    int negs = -1;  // Buffer of the negatives drawn with this window, or -1.
  } ahead;
  int drawn = 0, next_buffer = 0;
  auto draw_negatives = [&]() {
    int32_t* ids = neg_ids + static_cast<size_t>(next_buffer) * num_negs;
    for (int k = 0; k < num_negs; ++k) {
      ids[k] = c.negatives->Sample(NextRandom(rng));
      r.MarkOut(ids[k]);
      PrefetchRow(r.Out(ids[k]), n);
      if constexpr (kAdaGrad) PrefetchRow(r.OutState(ids[k]), n);
    }
    drawn = 0;
    const int buffer = next_buffer;
    next_buffer ^= 1;
    return buffer;
  };
  auto draw = [&](int64_t pos, Ahead* w) {
    DrawReducedWindow(c, pos, len, rng, &w->lo, &w->hi);
    w->negs = -1;
    if (w->hi == w->lo) return;
    PrefetchRow(r.Out(words[pos]), n);
    PrefetchRow(r.In(words[w->hi]), n);
    if constexpr (kAdaGrad) {
      PrefetchRow(r.OutState(words[pos]), n);
      PrefetchRow(r.InState(words[w->hi]), n);
    }
    if (++drawn == batch) w->negs = draw_negatives();
  };
  auto train_batch = [&](int buffer) {
    const int32_t* negs = neg_ids + static_cast<size_t>(buffer) * num_negs;
    for (int k = 0; k < num_negs; ++k) targets[1 + k] = r.Out(negs[k]);
    for (int b = 0; b < size; ++b) {
      const int32_t centre = words[slots[b].pos];
      targets[0] = r.Out(centre);
      float* g = grad + static_cast<size_t>(b) * cols;
      DotMany(hidden_rows[b], targets, cols, n, g);
      g[0] = PairGradient(g[0], true, alpha, stats);
      for (int k = 0; k < num_negs; ++k) {
        g[1 + k] = negs[k] == centre ? 0.0f : PairGradient(g[1 + k], false, alpha, stats);
      }
      Combine(g, 1, targets, cols, n, false, error + static_cast<size_t>(b) * n);
    }
    auto out_state = [&](int32_t w) { return kAdaGrad ? r.OutState(w) : nullptr; };
    if (size == 1) {
      // targets[0] is still window 0's centre row.
      Move<kAdaGrad>(grad[0], hidden, targets[0], out_state(words[slots[0].pos]), lr, n);
      for (int k = 0; k < num_negs; ++k) {
        Move<kAdaGrad>(grad[1 + k], hidden, targets[1 + k], out_state(negs[k]), lr, n);
      }
    } else {
      for (int k = 0; k < num_negs; ++k) {
        Combine(grad + 1 + k, cols, hidden_rows, size, n, false,
                delta + static_cast<size_t>(k) * n);
      }
      for (int b = 0; b < size; ++b) {
        const int32_t centre = words[slots[b].pos];
        Move<kAdaGrad>(grad[static_cast<size_t>(b) * cols], hidden_rows[b], r.Out(centre),
                       out_state(centre), lr, n);
      }
      for (int k = 0; k < num_negs; ++k) {
        Move<kAdaGrad>(1.0f, delta + static_cast<size_t>(k) * n, targets[1 + k], out_state(negs[k]),
                       lr, n);
      }
    }
    for (int b = 0; b < size; ++b) {
      const float* e = error + static_cast<size_t>(b) * n;
      for (int64_t p = slots[b].lo; p <= slots[b].hi; ++p) {
        if (p != slots[b].pos) {
          Move<kAdaGrad>(1.0f, e, r.In(words[p]), kAdaGrad ? r.InState(words[p]) : nullptr, lr, n);
        }
      }
    }
    size = 0;
  };
  if (len == 0) return;
  draw(0, &ahead);
  for (int64_t pos = 0; pos < len; ++pos) {
    const Ahead cur = ahead;
    if (pos + 1 < len) draw(pos + 1, &ahead);
    if (cur.hi == cur.lo) continue;
    float* h = hidden_rows[size];
    Zero(h, n);
    for (int64_t p = cur.lo; p <= cur.hi; ++p) {
      if (p != pos) Axpy(1.0f, r.In(words[p]), h, n);
    }
    stats->inputs += static_cast<uint64_t>(cur.hi - cur.lo);
    const float inv = 1.0f / static_cast<float>(cur.hi - cur.lo);
    for (size_t i = 0; i < n; ++i) h[i] *= inv;
    slots[size++] = {cur.lo, cur.hi, pos};
    if (cur.negs >= 0) train_batch(cur.negs);
  }
  if (size > 0) train_batch(draw_negatives());
}

void TrainSentenceImpl(const KernelConfig& c, const int32_t* words, size_t n, float alpha,
                       uint64_t* rng, const RowSource& rows, float* scratch, KernelStats* stats) {
  const Rows r{rows.in,          rows.out,      rows.remap,    c.stride,
               rows.touched_out, rows.in_state, rows.out_state};
  const int64_t len = static_cast<int64_t>(n);
  // Every word of the sentence may train as a context (input row) and as a
  // centre (output row); negatives are marked where drawn.
  if (rows.touched_in != nullptr) {
    for (int64_t i = 0; i < len; ++i) rows.touched_in[words[i]] = 1;
  }
  if (rows.touched_out != nullptr) {
    for (int64_t i = 0; i < len; ++i) rows.touched_out[words[i]] = 1;
  }
  // AdaGrad: the kernels compute plain gradients (scale 1) and AdaGrad
  // moves the rows at rate alpha.
  const bool adagrad = rows.in_state != nullptr;
  DD_CHECK((rows.out_state != nullptr) == adagrad);
  // Hierarchical softmax has no negatives to share: pair by pair.
  const bool plain = !c.shared_negatives || c.tree != nullptr;
  if (adagrad) {
    if (plain) {
      TrainPlain<true>(c, words, len, 1.0f, alpha, rng, r, scratch, stats);
    } else if (c.cbow) {
      TrainCbowShared<true>(c, words, len, 1.0f, alpha, rng, r, scratch, stats);
    } else {
      TrainSkipGramShared<true>(c, words, len, 1.0f, alpha, rng, r, scratch, stats);
    }
  } else if (plain) {
    TrainPlain<false>(c, words, len, alpha, 0.0f, rng, r, scratch, stats);
  } else if (c.cbow) {
    TrainCbowShared<false>(c, words, len, alpha, 0.0f, rng, r, scratch, stats);
  } else {
    TrainSkipGramShared<false>(c, words, len, alpha, 0.0f, rng, r, scratch, stats);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace deepdist::word2vec
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepdist::word2vec {

HWY_EXPORT(TrainSentenceImpl);

void TrainSentence(const KernelConfig& config, const int32_t* words, size_t n, float alpha,
                   uint64_t* rng, const RowSource& rows, float* scratch, KernelStats* stats) {
  HWY_DYNAMIC_DISPATCH(TrainSentenceImpl)(config, words, n, alpha, rng, rows, scratch, stats);
}

void PlanSentence(const KernelConfig& c, const int32_t* words, size_t n, uint64_t* rng,
                  std::vector<int32_t>* touched) {
  const int64_t len = static_cast<int64_t>(n);
  touched->insert(touched->end(), words, words + n);
  if (c.tree != nullptr) {
    // Every word's path (a word whose window turns out empty trains none:
    // a few rows more than needed, and no random draw to repeat).
    for (size_t i = 0; i < n; ++i) {
      const std::span<const int32_t> points = c.tree->Points(words[i]);
      touched->insert(touched->end(), points.begin(), points.end());
    }
    return;
  }
  const int cbow_batch = std::clamp(c.cbow_batch, 1, kMaxCbowBatch);
  int batched = 0;
  auto draw_batch = [&]() {
    for (int d = 1; d <= c.negative; ++d) touched->push_back(c.negatives->Sample(NextRandom(rng)));
    batched = 0;
  };
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const int reduce = static_cast<int>(NextRandom(rng) % static_cast<uint64_t>(c.window));
    const int64_t lo = std::max<int64_t>(0, pos - (c.window - reduce));
    const int64_t hi = std::min<int64_t>(len - 1, pos + (c.window - reduce));
    if (c.cbow && c.shared_negatives) {
      // One draw per cbow_batch windows that have a context, and one for the
      // last, partial batch of the sentence.
      if (hi - lo > 0 && ++batched == cbow_batch) draw_batch();
      continue;
    }
    // CBOW, and skip-gram with shared negatives, draw once per window.
    const int64_t inputs = (c.cbow || c.shared_negatives) ? (hi - lo > 0 ? 1 : 0) : hi - lo;
    for (int64_t k = 0; k < inputs; ++k) {
      for (int d = 1; d <= c.negative; ++d) {
        const int32_t target = c.negatives->Sample(NextRandom(rng));
        if (target != word) touched->push_back(target);
      }
    }
  }
  if (batched > 0) draw_batch();
}

size_t ScratchFloats(const KernelConfig& c) {
  // The largest of the three kernels' layouts, with 64 bytes of alignment
  // slack for each piece (see ScratchCarver).
  const size_t ptr = sizeof(void*) / sizeof(float);  // Floats per row pointer.
  const size_t slack = 16;
  const size_t inputs = 2 * static_cast<size_t>(c.window);
  const size_t targets = static_cast<size_t>(c.negative) + 1;
  const size_t negs = static_cast<size_t>(c.negative);
  const size_t batch = static_cast<size_t>(std::clamp(c.cbow_batch, 1, kMaxCbowBatch));
  // Hierarchical softmax adds a block of node pointers and gradients.
  const size_t plain = 2 * (c.stride + slack) + (kHsBlock * (ptr + 1) + 2 * slack);
  // AdaGrad adds the rows' state pointers.
  const size_t skip_gram = 2 * (inputs + targets) * ptr + inputs * targets + targets * c.stride +
                           2 * targets + 8 * slack;
  const size_t cbow = (2 * batch + negs) * c.stride + (targets + batch) * ptr + batch * targets +
                      2 * negs + 7 * slack;
  return std::max({plain, skip_gram, cbow}) + slack;
}

const char* KernelTarget() { return hwy::TargetName(hwy::SupportedAndGeneratedTargets()[0]); }

}  // namespace deepdist::word2vec
#endif  // HWY_ONCE
