#include "src/store/wire.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <vector>

#include "deepdist/status.h"
#include "src/core/multiversion.h"

namespace deepdist {

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {  // NaN: quiet, keeping the payload's top bits.
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (and inf): infinity.
  if (magnitude >= 0x38800000u) {
    // A normal half (>= 2^-14): rebias the exponent from 127 to 15, then drop
    // 13 mantissa bits rounding to nearest even; a carry out of the mantissa
    // correctly bumps the exponent.
    uint32_t rebiased = magnitude - (112u << 23);
    const uint32_t odd = (rebiased >> 13) & 1u;
    rebiased += 0xfffu + odd;
    return static_cast<uint16_t>(sign | (rebiased >> 13));
  }
  if (magnitude < 0x33000000u) return sign;  // Below 2^-25: rounds to zero.
  // A subnormal half: the result is round(|value| * 2^24), an integer of at
  // most 10 bits (1024, the smallest normal, when it rounds up).
  const uint32_t exponent = magnitude >> 23;  // Biased, 102..112.
  const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24.
  uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: mantissa * 2^-24, exact in binary32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(bits);
}

void DecodeValues(const char* in, size_t n, bool fp16, float* out) {
  if (n == 0) return;  // `out` may be null (an empty vector's data()).
  if (!fp16) {
    std::memcpy(out, in, n * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, sizeof(h));
    out[i] = HalfToFloat(h);
  }
}

size_t QuantizedRowBytes(size_t dim, int bits) {
  return 1 + (dim * static_cast<size_t>(bits) + 7) / 8;
}

namespace {

// The exponent of a quantized row whose largest magnitude is `max`.
int QuantizedExponent(float max, int limit) {
  // Below 2^-126 * L every value rounds to zero at the smallest exponent.
  if (!(max > 0.0f) || !std::isfinite(max)) return -126;
  int e = 0;
  std::frexp(static_cast<double>(max) / limit, &e);               // max / L in [2^(e-1), 2^e).
  if (std::ldexp(static_cast<double>(limit), e - 1) >= max) --e;  // Exactly a power of two.
  return std::clamp(e, -126, 127);
}

// 2^e as a float, for e in [-126, 127] (a normal number).
float Pow2(int e) { return std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23); }

// Rounds to the nearest integer, ties to even, for |x| < 2^22 (the default
// rounding of the addition does it; no call into libm).
inline float RoundToInt(float x) {
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23.
  return (x + kShift) - kShift;
}

// The largest magnitude's bits: for finite floats their order as unsigned
// integers (an integer reduction, which vectorizes); at or above infinity's
// bits when some value is infinite or NaN.
DD_MULTIVERSION uint32_t MaxMagnitudeBits(const float* row, size_t dim) {
  uint32_t max_bits = 0;
  for (size_t k = 0; k < dim; ++k) {
    max_bits = std::max(max_bits, std::bit_cast<uint32_t>(row[k]) & 0x7fffffffu);
  }
  return max_bits;
}

struct RowScale {
  int e = 0;
  float inverse = 1.0f;  // 2^-e: exact scaling (a product below 2^-126 rounds to 0 either way).
  float scale = 1.0f;    // 2^e.
  float limit = 0.0f;    // L.
  bool finite = true;
};

RowScale ScaleOf(const float* row, size_t dim, int bits) {
  DD_CHECK(bits == 8 || bits == 4);
  RowScale s;
  s.limit = static_cast<float>((1 << (bits - 1)) - 1);
  const uint32_t max_bits = MaxMagnitudeBits(row, dim);
  s.finite = max_bits < 0x7f800000u;
  float max = 0.0f;
  if (s.finite) {
    max = std::bit_cast<float>(max_bits);
  } else {
    for (size_t k = 0; k < dim; ++k) {
      if (std::isfinite(row[k])) max = std::max(max, std::fabs(row[k]));
    }
  }
  s.e = QuantizedExponent(max, (1 << (bits - 1)) - 1);
  s.inverse = s.e == 127 ? 0x1p-127f : Pow2(-s.e);
  s.scale = Pow2(s.e);
  return s;
}

// The integers of n values; a non-finite value is sent as 0 (the row's
// change is lost, not spread).
DD_MULTIVERSION void Quantize(const float* x, size_t n, const RowScale& s, int8_t* q) {
  const float inverse = s.inverse, lim = s.limit;
  if (s.finite) {
    for (size_t k = 0; k < n; ++k) {
      q[k] = static_cast<int8_t>(std::min(std::max(RoundToInt(x[k] * inverse), -lim), lim));
    }
    return;
  }
  for (size_t k = 0; k < n; ++k) {
    const float v = std::isfinite(x[k]) ? RoundToInt(x[k] * inverse) : 0.0f;
    q[k] = static_cast<int8_t>(std::min(std::max(v, -lim), lim));
  }
}

DD_MULTIVERSION void RoundInPlace(float* x, size_t n, const RowScale& s) {
  const float inverse = s.inverse, lim = s.limit, scale = s.scale;
  if (s.finite) {
    for (size_t k = 0; k < n; ++k) {
      x[k] = std::min(std::max(RoundToInt(x[k] * inverse), -lim), lim) * scale;
    }
    return;
  }
  for (size_t k = 0; k < n; ++k) {
    const float v = std::isfinite(x[k]) ? RoundToInt(x[k] * inverse) : 0.0f;
    x[k] = std::min(std::max(v, -lim), lim) * scale;
  }
}

// Packs n integers in [-8, 7] two to a byte (low nibble first).
void PackNibbles(const int8_t* q, size_t n, unsigned char* to) {
  size_t k = 0;
  for (; k + 2 <= n; k += 2) {
    to[k / 2] = static_cast<unsigned char>((static_cast<unsigned>(q[k]) & 0xfu) |
                                           (static_cast<unsigned>(q[k + 1]) << 4));
  }
  if (k < n) to[k / 2] = static_cast<unsigned char>(static_cast<unsigned>(q[k]) & 0xfu);
}

DD_MULTIVERSION void Decode8(const unsigned char* packed, size_t dim, float scale, float* out) {
  for (size_t k = 0; k < dim; ++k) {
    out[k] = static_cast<float>(static_cast<int8_t>(packed[k])) * scale;
  }
}

// Each byte's two 4-bit two's complement integers, low nibble first.
struct NibblePairs {
  float q[256][2];
  constexpr NibblePairs() : q() {
    for (int b = 0; b < 256; ++b) {
      q[b][0] = static_cast<float>(((b & 0xf) ^ 0x8) - 8);
      q[b][1] = static_cast<float>(((b >> 4) ^ 0x8) - 8);
    }
  }
};
constexpr NibblePairs kNibblePairs;

DD_MULTIVERSION void Decode4(const unsigned char* packed, size_t dim, float scale, float* out) {
  const size_t pairs = dim / 2;
  for (size_t i = 0; i < pairs; ++i) {
    const float* q = kNibblePairs.q[packed[i]];
    out[2 * i] = q[0] * scale;
    out[2 * i + 1] = q[1] * scale;
  }
  if (dim % 2 != 0) out[dim - 1] = kNibblePairs.q[packed[pairs]][0] * scale;
}

}  // namespace

void EncodeQuantizedRow(const float* row, size_t dim, int bits, char* out) {
  const RowScale s = ScaleOf(row, dim, bits);
  out[0] = static_cast<char>(static_cast<int8_t>(s.e));
  auto* packed = reinterpret_cast<unsigned char*>(out + 1);
  if (bits == 8) {
    Quantize(row, dim, s, reinterpret_cast<int8_t*>(packed));
    return;
  }
  // In chunks: quantized, then packed two to a byte.
  constexpr size_t kChunk = 256;
  int8_t q[kChunk];
  for (size_t at = 0; at < dim; at += kChunk) {
    const size_t n = std::min(kChunk, dim - at);
    Quantize(row + at, n, s, q);
    PackNibbles(q, n, packed + at / 2);  // kChunk is even: chunks start on a byte.
  }
}

void DecodeQuantizedRow(const char* in, size_t dim, int bits, float* out) {
  DD_CHECK(bits == 8 || bits == 4);
  const int e = std::clamp(static_cast<int>(static_cast<int8_t>(in[0])), -126, 127);
  const auto* packed = reinterpret_cast<const unsigned char*>(in + 1);
  if (bits == 8) {
    Decode8(packed, dim, Pow2(e), out);
  } else {
    Decode4(packed, dim, Pow2(e), out);
  }
}

void RoundQuantizedRow(float* row, size_t dim, int bits) {
  RoundInPlace(row, dim, ScaleOf(row, dim, bits));
}

namespace {

// The quantized integers of d (n values) at scale s, and base += their
// values: one pass, vectorizable.
DD_MULTIVERSION void QuantizeAndAdd(const float* d, size_t n, const RowScale& s, int8_t* q,
                                    float* base) {
  const float inverse = s.inverse, lim = s.limit, scale = s.scale;
  for (size_t k = 0; k < n; ++k) {
    const float v = std::min(std::max(RoundToInt(d[k] * inverse), -lim), lim);
    q[k] = static_cast<int8_t>(v);
    base[k] += v * scale;
  }
}

DD_MULTIVERSION void Difference(const float* a, const float* b, size_t n, float* out) {
  for (size_t k = 0; k < n; ++k) out[k] = a[k] - b[k];
}

}  // namespace

void EncodeDifference(const float* value, float* base, size_t dim, int bits, char* out) {
  constexpr size_t kChunk = 256;
  float d[kChunk];
  std::vector<float> heap;
  float* diff = d;
  if (dim > kChunk) {
    heap.resize(dim);
    diff = heap.data();
  }
  Difference(value, base, dim, diff);
  const RowScale s = ScaleOf(diff, dim, bits);
  if (!s.finite) {
    // Rare: the general path sends non-finite values as 0.
    EncodeQuantizedRow(diff, dim, bits, out);
    std::vector<float> rounded(dim);
    DecodeQuantizedRow(out, dim, bits, rounded.data());
    for (size_t k = 0; k < dim; ++k) base[k] += rounded[k];
    return;
  }
  out[0] = static_cast<char>(static_cast<int8_t>(s.e));
  auto* packed = reinterpret_cast<unsigned char*>(out + 1);
  if (bits == 8) {
    QuantizeAndAdd(diff, dim, s, reinterpret_cast<int8_t*>(packed), base);
    return;
  }
  int8_t q[kChunk];
  for (size_t at = 0; at < dim; at += kChunk) {
    const size_t n = std::min(kChunk, dim - at);
    QuantizeAndAdd(diff + at, n, s, q, base + at);
    PackNibbles(q, n, packed + at / 2);
  }
}

int PeekStoreId(std::string_view message) {
  if (message.size() < kMessageHeaderBytes) return -1;
  uint16_t store;
  std::memcpy(&store, message.data() + 2, sizeof(store));
  return store;
}

void WireWriter::Header(MessageType type, uint16_t store) {
  U8(static_cast<uint8_t>(type));
  U8(0);  // Flags, reserved.
  Raw(&store, sizeof(store));
}

void WireWriter::Id(uint64_t id, bool narrow) {
  if (narrow) {
    U32(static_cast<uint32_t>(id));
  } else {
    U64(id);
  }
}

void WireWriter::Ids(std::span<const uint64_t> ids, bool narrow) {
  if (!narrow) {
    Raw(ids.data(), ids.size_bytes());
    return;
  }
  // Narrowed through a small buffer, so that the string is appended to in a
  // few large pieces.
  uint32_t chunk[256];
  for (size_t at = 0; at < ids.size(); at += std::size(chunk)) {
    const size_t n = std::min(std::size(chunk), ids.size() - at);
    for (size_t i = 0; i < n; ++i) chunk[i] = static_cast<uint32_t>(ids[at + i]);
    Raw(chunk, n * sizeof(uint32_t));
  }
}

void WireWriter::Values(const float* values, size_t n, bool fp16) {
  if (!fp16) {
    Raw(values, n * sizeof(float));
    return;
  }
  uint16_t chunk[256];
  for (size_t at = 0; at < n; at += std::size(chunk)) {
    const size_t m = std::min(std::size(chunk), n - at);
    for (size_t i = 0; i < m; ++i) chunk[i] = FloatToHalf(values[at + i]);
    Raw(chunk, m * sizeof(uint16_t));
  }
}

void WireWriter::QuantizedRow(const float* row, size_t dim, int bits) {
  const size_t at = out_->size();
  out_->resize(at + QuantizedRowBytes(dim, bits));
  EncodeQuantizedRow(row, dim, bits, out_->data() + at);
}

bool WireReader::Raw(void* p, size_t n) {
  if (in_.size() - pos_ < n) return false;
  std::memcpy(p, in_.data() + pos_, n);
  pos_ += n;
  return true;
}

bool WireReader::Header(MessageType* type, uint16_t* store) {
  uint8_t t, flags;
  if (!U8(&t) || !U8(&flags) || !Raw(store, sizeof(*store))) return false;
  if (t < static_cast<uint8_t>(MessageType::kPullRequest) ||
      t > static_cast<uint8_t>(MessageType::kPullChangedReply)) {
    return false;
  }
  *type = static_cast<MessageType>(t);
  return true;
}

bool WireReader::Id(bool narrow, uint64_t* id) {
  if (!narrow) return U64(id);
  uint32_t v;
  if (!U32(&v)) return false;
  *id = v;
  return true;
}

bool WireReader::Values(size_t n, bool fp16, float* out) {
  const size_t bytes = n * WireValueBytes(fp16);
  if (in_.size() - pos_ < bytes) return false;
  DecodeValues(in_.data() + pos_, n, fp16, out);
  pos_ += bytes;
  return true;
}

bool WireReader::SkipValues(size_t n, bool fp16) {
  const size_t bytes = n * WireValueBytes(fp16);
  if (in_.size() - pos_ < bytes) return false;
  pos_ += bytes;
  return true;
}

bool WireReader::QuantizedRow(size_t dim, int bits, float* out) {
  const size_t bytes = QuantizedRowBytes(dim, bits);
  if (in_.size() - pos_ < bytes) return false;
  DecodeQuantizedRow(in_.data() + pos_, dim, bits, out);
  pos_ += bytes;
  return true;
}

}  // namespace deepdist
