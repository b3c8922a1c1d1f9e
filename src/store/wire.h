// Wire format of the MPI store's messages.
//
// Every message starts with a 4-byte header: the message type, a flags byte
// and the id of the store it belongs to (so several stores can share one
// cluster). What follows depends on the type (see mpi_store.cc): tickets and
// counts as fixed-width integers, row ids as uint32 when every table has fewer
// than 2^32 rows (else uint64), and row values as IEEE binary32 or, with the
// fp16 wire, binary16 rounded to nearest even, or, for the changes of the
// int8 and int4 wires, quantized rows (QuantizedRowBytes). Integers and floats travel in
// the host's byte order: the ranks of one job are assumed to share it.
//
// WireWriter appends to a string (never zero-filling first: a reserved string
// is written once, which matters for messages of megabytes); WireReader reads from a view and
// reports a short or malformed message as false instead of reading past the end. Neither is
// thread-safe; each is used by one thread at a time.
#ifndef DEEPDIST_SRC_STORE_WIRE_H_
#define DEEPDIST_SRC_STORE_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace deepdist {

enum class MessageType : uint8_t {
  kPullRequest = 1,
  kPullReply = 2,
  kPushRequest = 3,
  kPushAck = 4,
  kProgress = 5,
  kShardChunk = 6,
  kPullChangedRequest = 7,
  kPullChangedReply = 8,
  kTaskRequest = 9,
  kTaskReply = 10,
};

constexpr size_t kMessageHeaderBytes = 4;

// Bytes one value takes on the wire.
constexpr size_t WireValueBytes(bool fp16) { return fp16 ? 2 : 4; }

// binary16 <-> binary32. FloatToHalf rounds to nearest, ties to even;
// overflow gives infinity, NaN stays NaN.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

// Decodes n values at `in` (n * WireValueBytes(fp16) bytes) into `out`.
void DecodeValues(const char* in, size_t n, bool fp16, float* out);

// A quantized row (the int8 and int4 wires): one signed byte e, then each
// of the row's values as a `bits`-bit integer q in [-L, L], L = 2^(bits-1)
// - 1, two's complement; the value is q * 2^e. int8: one byte per value.
// int4: ceil(dim / 2) bytes, byte k holding value k in its low nibble and
// value ceil(dim / 2) + k in its high one (0 past the row's end). e is
// the smallest exponent with max |x| <= L * 2^e, so the largest value keeps
// its full `bits` of precision; a power-of-two scale makes the decoded
// values exact floats, and quantizing a quantized row gives it back
// unchanged (RoundQuantizedRow is idempotent), so that a sender can keep
// exactly what the receiver will get.
size_t QuantizedRowBytes(size_t dim, int bits);
void EncodeQuantizedRow(const float* row, size_t dim, int bits, char* out);
void DecodeQuantizedRow(const char* in, size_t dim, int bits, float* out);
// Decodes a quantized row and adds its values to both a and b (dim each).
void AddQuantizedRow(const char* in, size_t dim, int bits, float* a, float* b);
// Replaces the row by its quantized value.
void RoundQuantizedRow(float* row, size_t dim, int bits);
// Encodes value - base (dim values) as a quantized row into `out` and adds
// what it encodes to `base`: EncodeQuantizedRow of the difference, then
// base += its decoded values, in one pass.
void EncodeDifference(const float* value, float* base, size_t dim, int bits, char* out);
// change = value - base as RoundQuantizedRow rounds it, and base += change.
void RoundDifference(const float* value, float* base, size_t dim, int bits, float* change);

// The store id of a message, or -1 when it is shorter than a header.
int PeekStoreId(std::string_view message);

class WireWriter {
 public:
  explicit WireWriter(std::string* out) : out_(out) {}

  void Header(MessageType type, uint16_t store);
  void U8(uint8_t v) { Raw(&v, sizeof(v)); }
  void U32(uint32_t v) { Raw(&v, sizeof(v)); }
  void U64(uint64_t v) { Raw(&v, sizeof(v)); }
  void F32(float v) { Raw(&v, sizeof(v)); }
  void Bytes(std::string_view bytes) { out_->append(bytes); }
  // A row id, as uint32 when `narrow` (the caller knows it fits).
  void Id(uint64_t id, bool narrow);
  // Row ids, each as Id writes it.
  void Ids(std::span<const uint64_t> ids, bool narrow);
  // n values, as binary16 when `fp16`.
  void Values(const float* values, size_t n, bool fp16);
  // A row of `dim` values, quantized to `bits` bits.
  void QuantizedRow(const float* row, size_t dim, int bits);

 private:
  void Raw(const void* p, size_t n) {
    if (n > 0) out_->append(static_cast<const char*>(p), n);  // p may be null when n is 0.
  }
  std::string* out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}

  bool Header(MessageType* type, uint16_t* store);
  bool U8(uint8_t* v) { return Raw(v, sizeof(*v)); }
  bool U32(uint32_t* v) { return Raw(v, sizeof(*v)); }
  bool U64(uint64_t* v) { return Raw(v, sizeof(*v)); }
  bool F32(float* v) { return Raw(v, sizeof(*v)); }
  bool Id(bool narrow, uint64_t* id);
  // Decodes n values into out.
  bool Values(size_t n, bool fp16, float* out);
  // Skips n values.
  bool SkipValues(size_t n, bool fp16);
  // Decodes a quantized row of `dim` values into out.
  bool QuantizedRow(size_t dim, int bits, float* out);
  // Skips n bytes (at most remaining()).
  bool Skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  // Bytes not read yet.
  size_t remaining() const { return in_.size() - pos_; }
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  bool Raw(void* p, size_t n);
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_WIRE_H_
