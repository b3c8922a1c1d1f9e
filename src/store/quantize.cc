// The quantized rows of the int8 and int4 wires (declared in wire.h),
// vectorised with Google Highway and dispatched at run time, once per row.
// A row whose values are all finite takes the vector path; one with an
// infinity or a NaN (rare: a diverging model) takes a plain scalar path with
// the same results for its finite values. Both round with the same
// operations (multiply by 2^-e, round to nearest even, clamp, multiply by
// 2^e), so the vector body and its scalar tail agree bit for bit.
//
// The int4 layout: a row of dim values has half = ceil(dim / 2) bytes after
// its exponent; byte k holds value k in its low nibble and value half + k in
// its high one (zero for an odd dim's last byte). Both halves of a row are
// then contiguous runs of values, which vector loads and stores take whole.

// Compiled once per SIMD target by Highway's foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/store/quantize.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <hwy/highway.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "deepdist/status.h"
#include "src/store/wire.h"

// Target-independent helpers, compiled once.
#ifndef DEEPDIST_SRC_STORE_QUANTIZE_SHARED_
#define DEEPDIST_SRC_STORE_QUANTIZE_SHARED_
namespace deepdist::quantize {

struct RowScale {
  int e = 0;
  float inverse = 1.0f;  // 2^-e: exact scaling (a product below 2^-126 rounds to 0 either way).
  float scale = 1.0f;    // 2^e.
  float limit = 0.0f;    // L.
};

inline float Limit(int bits) { return static_cast<float>((1 << (bits - 1)) - 1); }

// 2^e as a float, for e in [-126, 127] (a normal number).
inline float Pow2(int e) { return std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23); }

// 2^e as a double, for e in [-1022, 1023].
inline double Pow2Double(int e) {
  return std::bit_cast<double>(static_cast<uint64_t>(e + 1023) << 52);
}

// The scale of a row whose largest finite magnitude is `max`: the smallest e
// with max <= L * 2^e (below 2^-126 * L every value rounds to zero at the
// smallest exponent). From max's binary exponent, one or two steps of exact
// comparisons in double precision (no call into libm).
inline RowScale ScaleFor(float max, int bits) {
  RowScale s;
  s.limit = Limit(bits);
  int e = -126;
  if (max > 0.0f && std::isfinite(max)) {
    const double m = max, limit = s.limit;
    // max in [2^E, 2^(E+1)) (E = -127 covers every subnormal), L in
    // [2^(bits-2), 2^(bits-1)): the answer is near E - (bits - 2).
    e = std::max(static_cast<int>(std::bit_cast<uint32_t>(max) >> 23) - 127, -127) - (bits - 2);
    while (limit * Pow2Double(e) < m) ++e;
    while (limit * Pow2Double(e - 1) >= m) --e;
    e = std::clamp(e, -126, 127);
  }
  s.e = e;
  s.inverse = e == 127 ? 0x1p-127f : Pow2(-e);
  s.scale = Pow2(e);
  return s;
}

// Rounds to the nearest integer, ties to even, for |x| < 2^22 (the default
// rounding of the addition does it, as the vector path's Round does).
inline float RoundToInt(float x) {
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23.
  return (x + kShift) - kShift;
}

// One value's integer; a non-finite value is sent as 0 (the row's change is
// lost, not spread).
inline float QuantizeOne(float x, const RowScale& s) {
  if (!std::isfinite(x)) return 0.0f;
  return std::min(std::max(RoundToInt(x * s.inverse), -s.limit), s.limit);
}

inline int SignedNibble(unsigned nibble) { return static_cast<int>((nibble & 0xfu) ^ 0x8u) - 8; }

inline size_t Int4Half(size_t dim) { return (dim + 1) / 2; }

// The integers' bytes for values [from, dim) of a row whose integers are
// q(k); the int4 bytes from byte `from` (values from and half + from on).
template <typename Q>
void PackTail(size_t from, size_t dim, int bits, Q&& q, unsigned char* packed) {
  if (bits == 8) {
    for (size_t k = from; k < dim; ++k) packed[k] = static_cast<unsigned char>(q(k));
    return;
  }
  const size_t half = Int4Half(dim);
  for (size_t k = from; k < half; ++k) {
    const unsigned lo = static_cast<unsigned>(q(k)) & 0xfu;
    const unsigned hi = half + k < dim ? static_cast<unsigned>(q(half + k)) & 0xfu : 0u;
    packed[k] = static_cast<unsigned char>(lo | (hi << 4));
  }
}

// Value k's integer in a packed row.
inline int Unpack(const unsigned char* packed, size_t dim, int bits, size_t k) {
  if (bits == 8) return static_cast<int8_t>(packed[k]);
  const size_t half = Int4Half(dim);
  return k < half ? SignedNibble(packed[k]) : SignedNibble(packed[k - half] >> 4u);
}

// The largest finite magnitude of a row (the scalar path, for rows with a
// non-finite value).
inline float FiniteMax(const float* x, size_t dim) {
  float max = 0.0f;
  for (size_t k = 0; k < dim; ++k) {
    if (std::isfinite(x[k])) max = std::max(max, std::fabs(x[k]));
  }
  return max;
}

}  // namespace deepdist::quantize
#endif  // DEEPDIST_SRC_STORE_QUANTIZE_SHARED_

HWY_BEFORE_NAMESPACE();
namespace deepdist::quantize::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;

// The largest magnitude's bits: for finite floats their order as unsigned
// integers; at or above infinity's bits when some value is infinite or NaN.
uint32_t MaxMagnitudeBits(const float* x, size_t n) {
  const DF df;
  const DU du;
  const size_t lanes = hn::Lanes(df);
  const auto abs_mask = hn::Set(du, 0x7fffffffu);
  auto m = hn::Zero(du);
  size_t k = 0;
  for (; k + lanes <= n; k += lanes) {
    m = hn::Max(m, hn::And(hn::BitCast(du, hn::LoadU(df, x + k)), abs_mask));
  }
  uint32_t max = hn::GetLane(hn::MaxOfLanes(du, m));
  for (; k < n; ++k) max = std::max(max, std::bit_cast<uint32_t>(x[k]) & 0x7fffffffu);
  return max;
}

// The integers of one vector of values, as floats.
HWY_INLINE hn::Vec<DF> Quantized(DF df, hn::Vec<DF> x, const RowScale& s) {
  const auto v = hn::Round(hn::Mul(x, hn::Set(df, s.inverse)));
  return hn::Min(hn::Max(v, hn::Set(df, -s.limit)), hn::Set(df, s.limit));
}

// The int4 byte of two vectors of integers (value k and value half + k).
HWY_INLINE void StoreNibbles(hn::Vec<DF> lo, hn::Vec<DF> hi, unsigned char* to) {
  const DI di;
  const DU du;
  const hn::Rebind<uint8_t, DU> d8;
  const auto mask = hn::Set(du, 0xfu);
  const auto l = hn::And(hn::BitCast(du, hn::ConvertTo(di, lo)), mask);
  const auto h = hn::ShiftLeft<4>(hn::And(hn::BitCast(du, hn::ConvertTo(di, hi)), mask));
  hn::StoreU(hn::TruncateTo(d8, hn::Or(l, h)), d8, to);
}

HWY_INLINE void StoreInt8(hn::Vec<DF> q, unsigned char* to) {
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  hn::StoreU(hn::DemoteTo(d8, hn::ConvertTo(di, q)), d8, reinterpret_cast<int8_t*>(to));
}

// The integers of packed bytes [k, k + lanes) as floats: int8, or the int4
// low and high nibbles.
HWY_INLINE hn::Vec<DF> LoadInt8(const unsigned char* packed) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  return hn::ConvertTo(df,
                       hn::PromoteTo(di, hn::LoadU(d8, reinterpret_cast<const int8_t*>(packed))));
}

HWY_INLINE void LoadNibbles(const unsigned char* packed, hn::Vec<DF>* lo, hn::Vec<DF>* hi) {
  const DF df;
  const DI di;
  const DU du;
  const hn::Rebind<uint8_t, DU> d8;
  const auto bytes = hn::PromoteTo(du, hn::LoadU(d8, packed));
  const auto eight = hn::Set(di, 8);
  // Two's complement of 4 bits: (n ^ 8) - 8.
  auto sign_extend = [&](hn::Vec<DU> n) {
    return hn::Sub(hn::Xor(hn::BitCast(di, n), eight), eight);
  };
  *lo = hn::ConvertTo(df, sign_extend(hn::And(bytes, hn::Set(du, 0xfu))));
  *hi = hn::ConvertTo(df, sign_extend(hn::ShiftRight<4>(bytes)));
}

// Encodes the finite values x with scale s; with `base`, also base += the
// decoded values.
void EncodeFinite(const float* x, size_t dim, int bits, const RowScale& s, unsigned char* packed,
                  float* base) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  const auto scale = hn::Set(df, s.scale);
  auto add = [&](float* at, hn::Vec<DF> q) {
    if (base != nullptr) hn::StoreU(hn::MulAdd(q, scale, hn::LoadU(df, at)), df, at);
  };
  size_t done = 0;  // Values (int8) or bytes (int4) written by the vector loop.
  if (bits == 8) {
    for (; done + lanes <= dim; done += lanes) {
      const auto q = Quantized(df, hn::LoadU(df, x + done), s);
      StoreInt8(q, packed + done);
      add(base + done, q);
    }
  } else {
    const size_t half = Int4Half(dim), pairs = dim - half;
    for (; done + lanes <= pairs; done += lanes) {
      const auto lo = Quantized(df, hn::LoadU(df, x + done), s);
      const auto hi = Quantized(df, hn::LoadU(df, x + half + done), s);
      StoreNibbles(lo, hi, packed + done);
      add(base + done, lo);
      add(base + half + done, hi);
    }
  }
  // The rest: int8 values from `done` on; int4 bytes from `done` on, with
  // their values done and half + done on.
  PackTail(
      done, dim, bits,
      [&](size_t k) {
        const float v = std::min(std::max(RoundToInt(x[k] * s.inverse), -s.limit), s.limit);
        // q * 2^e is exact, so this rounds once, as MulAdd does.
        if (base != nullptr) base[k] += v * s.scale;
        return static_cast<int>(v);
      },
      packed);
}

// Encodes a row; with `base`, also base += the decoded values.
void EncodeRow(const float* row, size_t dim, int bits, char* out, float* base) {
  const uint32_t max_bits = MaxMagnitudeBits(row, dim);
  auto* packed = reinterpret_cast<unsigned char*>(out + 1);
  if (max_bits < 0x7f800000u) {
    const RowScale s = ScaleFor(std::bit_cast<float>(max_bits), bits);
    out[0] = static_cast<char>(static_cast<int8_t>(s.e));
    EncodeFinite(row, dim, bits, s, packed, base);
    return;
  }
  // Rare: non-finite values go as 0, and base moves by what was sent.
  const RowScale s = ScaleFor(FiniteMax(row, dim), bits);
  out[0] = static_cast<char>(static_cast<int8_t>(s.e));
  PackTail(
      0, dim, bits, [&](size_t k) { return static_cast<int>(QuantizeOne(row[k], s)); }, packed);
  if (base == nullptr) return;
  for (size_t k = 0; k < dim; ++k) {
    base[k] += static_cast<float>(Unpack(packed, dim, bits, k)) * s.scale;
  }
}

// out = a - b (dim values).
void Difference(const float* a, const float* b, size_t dim, float* out) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  size_t k = 0;
  for (; k + lanes <= dim; k += lanes) {
    hn::StoreU(hn::Sub(hn::LoadU(df, a + k), hn::LoadU(df, b + k)), df, out + k);
  }
  for (; k < dim; ++k) out[k] = a[k] - b[k];
}

// Decodes a row; with `also`, adds it to `out` and to `also` instead.
void DecodeRow(const char* in, size_t dim, int bits, float* out, float* also) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  const int e = std::clamp(static_cast<int>(static_cast<int8_t>(in[0])), -126, 127);
  const float scale_value = Pow2(e);
  const auto scale = hn::Set(df, scale_value);
  const auto* packed = reinterpret_cast<const unsigned char*>(in + 1);
  auto put = [&](size_t k, hn::Vec<DF> q) {
    const auto v = hn::Mul(q, scale);
    if (also == nullptr) {
      hn::StoreU(v, df, out + k);
      return;
    }
    hn::StoreU(hn::Add(hn::LoadU(df, out + k), v), df, out + k);
    hn::StoreU(hn::Add(hn::LoadU(df, also + k), v), df, also + k);
  };
  // One value the vector loops left.
  auto rest = [&](size_t j, int q) {
    const float v = static_cast<float>(q) * scale_value;
    if (also == nullptr) {
      out[j] = v;
    } else {
      out[j] += v;
      also[j] += v;
    }
  };
  if (bits == 8) {
    size_t k = 0;
    for (; k + lanes <= dim; k += lanes) put(k, LoadInt8(packed + k));
    for (; k < dim; ++k) rest(k, static_cast<int8_t>(packed[k]));
    return;
  }
  const size_t half = Int4Half(dim), pairs = dim - half;
  size_t b = 0;
  for (; b + lanes <= pairs; b += lanes) {
    hn::Vec<DF> lo, hi;
    LoadNibbles(packed + b, &lo, &hi);
    put(b, lo);
    put(half + b, hi);
  }
  // The values the loop left: [b, half) and [half + b, dim).
  for (size_t j = b; j < half; ++j) rest(j, SignedNibble(packed[j]));
  for (size_t j = b; j < pairs; ++j) rest(half + j, SignedNibble(packed[j] >> 4u));
}

void RoundRow(float* row, size_t dim, int bits) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  const uint32_t max_bits = MaxMagnitudeBits(row, dim);
  const bool finite = max_bits < 0x7f800000u;
  const RowScale s = ScaleFor(finite ? std::bit_cast<float>(max_bits) : FiniteMax(row, dim), bits);
  size_t k = 0;
  if (finite) {
    const auto scale = hn::Set(df, s.scale);
    for (; k + lanes <= dim; k += lanes) {
      hn::StoreU(hn::Mul(Quantized(df, hn::LoadU(df, row + k), s), scale), df, row + k);
    }
  }
  for (; k < dim; ++k) row[k] = QuantizeOne(row[k], s) * s.scale;
}

// Encodes value - base and adds what it encodes to base.
void EncodeDiff(const float* value, float* base, size_t dim, int bits, char* out) {
  // Per thread, grown to the largest dim seen (owners encode many rows).
  thread_local std::vector<float> diff;
  if (diff.size() < dim) diff.resize(dim);
  Difference(value, base, dim, diff.data());
  EncodeRow(diff.data(), dim, bits, out, base);
}

// change = value - base rounded, and base += change.
void RoundDiff(const float* value, float* base, size_t dim, int bits, float* change) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  Difference(value, base, dim, change);
  RoundRow(change, dim, bits);
  size_t k = 0;
  for (; k + lanes <= dim; k += lanes) {
    hn::StoreU(hn::Add(hn::LoadU(df, base + k), hn::LoadU(df, change + k)), df, base + k);
  }
  for (; k < dim; ++k) base[k] += change[k];
}

}  // namespace deepdist::quantize::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepdist {
namespace quantize {
HWY_EXPORT(EncodeRow);
HWY_EXPORT(DecodeRow);
HWY_EXPORT(RoundRow);
HWY_EXPORT(EncodeDiff);
HWY_EXPORT(RoundDiff);
}  // namespace quantize

size_t QuantizedRowBytes(size_t dim, int bits) {
  return 1 + (dim * static_cast<size_t>(bits) + 7) / 8;
}

void EncodeQuantizedRow(const float* row, size_t dim, int bits, char* out) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::EncodeRow)(row, dim, bits, out, nullptr);
}

void DecodeQuantizedRow(const char* in, size_t dim, int bits, float* out) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::DecodeRow)(in, dim, bits, out, nullptr);
}

void AddQuantizedRow(const char* in, size_t dim, int bits, float* a, float* b) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::DecodeRow)(in, dim, bits, a, b);
}

void RoundQuantizedRow(float* row, size_t dim, int bits) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::RoundRow)(row, dim, bits);
}

void RoundDifference(const float* value, float* base, size_t dim, int bits, float* change) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::RoundDiff)(value, base, dim, bits, change);
}

void EncodeDifference(const float* value, float* base, size_t dim, int bits, char* out) {
  DD_CHECK(bits == 8 || bits == 4);
  HWY_DYNAMIC_DISPATCH(quantize::EncodeDiff)(value, base, dim, bits, out);
}

}  // namespace deepdist
#endif  // HWY_ONCE
