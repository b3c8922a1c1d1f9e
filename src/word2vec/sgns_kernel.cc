// Compiled once per SIMD target by Highway's foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/word2vec/sgns_kernel.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <hwy/highway.h>

#include "deepdist/model.h"
#include "src/word2vec/sgns_kernel.h"

#ifndef DEEPDIST_SGNS_TABLES_ONCE
#define DEEPDIST_SGNS_TABLES_ONCE
#include <algorithm>
#include <cmath>

namespace deepdist::word2vec {
namespace {

// word2vec.c's sigmoid table: scores beyond +-kMaxExp saturate.
constexpr float kMaxExp = 6.0f;
constexpr int kTableSize = 1024;

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

HWY_INLINE void Zero(float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  for (size_t i = 0; i < n; i += hn::Lanes(d)) hn::StoreU(hn::Zero(d), d, y + i);
}

// One target of one input vector: the score, the gradient, the updates.
// Adds g * out_row to `error` and g * input to out_row.
HWY_INLINE void TrainTarget(const float* HWY_RESTRICT input, float* HWY_RESTRICT out_row,
                            float* HWY_RESTRICT error, float label, float alpha, size_t n,
                            KernelStats* stats) {
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
  Axpy(g, input, out_row, n);
}

// Skip-gram for one window with shared negatives: scores S = inputs x
// targets, gradients G = (label - sigmoid(S)) * alpha, then every input moves
// by G x targets and every target by G' x inputs, all from the old values.
HWY_INLINE void TrainWindowShared(float* const* inputs, int num_inputs, float* const* targets,
                                  int num_targets, float alpha, size_t n, float* HWY_RESTRICT grad,
                                  float* HWY_RESTRICT delta_in, float* HWY_RESTRICT delta_out,
                                  KernelStats* stats) {
  const SigmoidTables& t = Tables();
  for (int i = 0; i < num_inputs; ++i) {
    for (int j = 0; j < num_targets; ++j) {
      const float f = Dot(inputs[i], targets[j], n);
      const bool positive = j == 0;
      float g = 0.0f;
      if (f >= kMaxExp || f <= -kMaxExp) {
        stats->loss += ((f >= kMaxExp) != positive) ? -t.log_sigmoid[0] : 0.0;
      } else {
        const int idx = TableIndex(f);
        g = ((positive ? 1.0f : 0.0f) - t.sigmoid[idx]) * alpha;
        stats->loss -= positive ? t.log_sigmoid[idx] : t.log_sigmoid[kTableSize - idx];
      }
      grad[i * num_targets + j] = g;
      ++stats->pairs;
    }
  }
  for (int i = 0; i < num_inputs; ++i) {
    float* d = delta_in + static_cast<size_t>(i) * n;
    Zero(d, n);
    for (int j = 0; j < num_targets; ++j) Axpy(grad[i * num_targets + j], targets[j], d, n);
  }
  for (int j = 0; j < num_targets; ++j) {
    float* d = delta_out + static_cast<size_t>(j) * n;
    Zero(d, n);
    for (int i = 0; i < num_inputs; ++i) Axpy(grad[i * num_targets + j], inputs[i], d, n);
  }
  for (int i = 0; i < num_inputs; ++i)
    Axpy(1.0f, delta_in + static_cast<size_t>(i) * n, inputs[i], n);
  for (int j = 0; j < num_targets; ++j)
    Axpy(1.0f, delta_out + static_cast<size_t>(j) * n, targets[j], n);
}

void TrainSentenceImpl(const KernelConfig& c, const int32_t* words, size_t n, float alpha,
                       uint64_t* rng, const RowSource& rows, float* scratch, KernelStats* stats) {
  const size_t stride = c.stride;
  float* error = scratch;
  float* hidden = scratch + stride;
  auto in_row = [&](int32_t w) {
    return rows.in + static_cast<size_t>(rows.remap ? rows.remap[w] : w) * stride;
  };
  auto out_row = [&](int32_t w) {
    return rows.out + static_cast<size_t>(rows.remap ? rows.remap[w] : w) * stride;
  };
  // One input vector against the word (label 1) and its negatives (label 0);
  // leaves the input's accumulated change in `error`.
  auto train_targets = [&](const float* input, int32_t word) {
    Zero(error, stride);
    for (int d = 0; d <= c.negative; ++d) {
      int32_t target = word;
      if (d > 0) {
        target = c.negatives->Sample(NextRandom(rng));
        if (target == word) continue;
      }
      TrainTarget(input, out_row(target), error, d == 0 ? 1.0f : 0.0f, alpha, stride, stats);
    }
  };
  const int64_t len = static_cast<int64_t>(n);
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const int reduce = static_cast<int>(NextRandom(rng) % static_cast<uint64_t>(c.window));
    const int64_t lo = std::max<int64_t>(0, pos - (c.window - reduce));
    const int64_t hi = std::min<int64_t>(len - 1, pos + (c.window - reduce));
    if (c.cbow) {
      // Input: the mean of the context vectors; the error goes back to each.
      Zero(hidden, stride);
      int count = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        Axpy(1.0f, in_row(words[p]), hidden, stride);
        ++count;
      }
      if (count == 0) continue;
      const float inv = 1.0f / static_cast<float>(count);
      for (size_t i = 0; i < stride; ++i) hidden[i] *= inv;
      train_targets(hidden, word);
      for (int64_t p = lo; p <= hi; ++p) {
        if (p != pos) Axpy(1.0f, error, in_row(words[p]), stride);
      }
      continue;
    }
    if (c.shared_negatives) {
      // Layout of scratch past error/hidden: row pointers, gradients, deltas.
      const int max_inputs = 2 * c.window;
      float** inputs = reinterpret_cast<float**>(scratch + 2 * stride);
      float** targets = inputs + max_inputs;
      float* grad = reinterpret_cast<float*>(targets + c.negative + 1);
      float* delta_in = grad + max_inputs * (c.negative + 1);
      float* delta_out = delta_in + static_cast<size_t>(max_inputs) * stride;
      int num_inputs = 0, num_targets = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        if (p != pos) inputs[num_inputs++] = in_row(words[p]);
      }
      if (num_inputs == 0) continue;
      targets[num_targets++] = out_row(word);
      for (int d = 1; d <= c.negative; ++d) {
        const int32_t target = c.negatives->Sample(NextRandom(rng));
        if (target != word) targets[num_targets++] = out_row(target);
      }
      TrainWindowShared(inputs, num_inputs, targets, num_targets, alpha, stride, grad, delta_in,
                        delta_out, stats);
      continue;
    }
    // Skip-gram: each context word's vector predicts the centre word.
    for (int64_t p = lo; p <= hi; ++p) {
      if (p == pos) continue;
      float* input = in_row(words[p]);
      train_targets(input, word);
      Axpy(1.0f, error, input, stride);
    }
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
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const int reduce = static_cast<int>(NextRandom(rng) % static_cast<uint64_t>(c.window));
    const int64_t lo = std::max<int64_t>(0, pos - (c.window - reduce));
    const int64_t hi = std::min<int64_t>(len - 1, pos + (c.window - reduce));
    // CBOW, and skip-gram with shared negatives, draw once per window.
    const int64_t inputs = (c.cbow || c.shared_negatives) ? (hi - lo > 0 ? 1 : 0) : hi - lo;
    for (int64_t k = 0; k < inputs; ++k) {
      for (int d = 1; d <= c.negative; ++d) {
        const int32_t target = c.negatives->Sample(NextRandom(rng));
        if (target != word) touched->push_back(target);
      }
    }
  }
}

size_t ScratchFloats(const KernelConfig& c) {
  const size_t max_inputs = 2 * static_cast<size_t>(c.window);
  const size_t targets = static_cast<size_t>(c.negative) + 1;
  const size_t pointer_floats = (max_inputs + targets) * sizeof(float*) / sizeof(float) + 2;
  return 2 * c.stride + pointer_floats + max_inputs * targets + (max_inputs + targets) * c.stride +
         Table::kRowAlign;
}

const char* KernelTarget() { return hwy::TargetName(hwy::SupportedAndGeneratedTargets()[0]); }

}  // namespace deepdist::word2vec
#endif  // HWY_ONCE
