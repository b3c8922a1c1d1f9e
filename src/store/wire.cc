#include "src/store/wire.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <vector>

#include "deepdist/status.h"

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
      t > static_cast<uint8_t>(MessageType::kTaskReply)) {
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
