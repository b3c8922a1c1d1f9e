// The decoders of the messages an MPI store receives from other ranks
// (src/store/wire.h; the layouts are listed in src/store/mpi_store.cc), on
// any bytes as one received message, under every wire (fp32, fp16, int8 and
// int4 values; row ids as uint32 and as uint64): PeekStoreId, WireReader,
// DecodeValues and binary16, and the quantized rows (DecodeQuantizedRow,
// AddQuantizedRow).
//
// MpiStore's handlers themselves (OnMessage, ServePull, ServePush,
// TakeReply, ServePullChanged, TakeShardChunk, ServeTask, TakeTaskReply) are
// fuzzed by mpi_store_fuzz, through a cluster without MPI. This target walks
// each message as its handler does, through the same WireReader calls, for
// a store of two small tables at rank 1 of 2, checking a count against the
// bytes left before anything is sized by it, and checks the decoders'
// answers against their definitions.
// What the decoders must do: a read fails exactly when too few bytes are
// left and otherwise takes what it reads; ids and values decode as uint32 or
// uint64 and binary32 or binary16 (a binary16 comes back from FloatToHalf as
// it was, unless a NaN); a quantized row decodes the same through every
// decoder and, when it is one an encoder can write, encodes back to itself.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/store.h"
#include "src/store/wire.h"

namespace deepdist {
namespace {

// The store the messages are for: this rank owns the odd rows, and they
// come from rank 0.
constexpr RowId kRanks = 2;
constexpr RowId kRank = 1;
constexpr RowId kSource = 0;
struct Shape {
  size_t rows, dim;
};
// A dim of 20 takes the quantized rows' vector loops and their tails.
constexpr Shape kTables[] = {{10, 3}, {7, 20}};
constexpr size_t kNumTables = sizeof(kTables) / sizeof(kTables[0]);

// A wire as the store knows it (the message does not say): the values'
// precision, the quantized rows' bits (0: none), whether ids are uint32, and
// for a PullChanged reply on a quantized wire whether the pull is a client's
// first (fp32 values) or a later one (quantized deltas).
struct Wire {
  bool fp16;
  int bits;
  bool narrow;
  bool first;
};

void CheckValues(const char* in, size_t n, bool fp16, const float* out) {
  for (size_t i = 0; i < n; ++i) {
    if (!fp16) {
      if (std::memcmp(in + 4 * i, out + i, 4) != 0) std::abort();
      continue;
    }
    uint16_t half;
    std::memcpy(&half, in + 2 * i, sizeof(half));
    const uint16_t back = FloatToHalf(out[i]);
    const bool nan = (half & 0x7c00u) == 0x7c00u && (half & 0x3ffu) != 0;
    if (nan ? !std::isnan(out[i]) || (back & 0x7fffu) <= 0x7c00u : back != half) std::abort();
  }
}

// True when every value of the quantized row `in` lies in [-L, L], as an
// encoder writes them (the bytes also hold -L - 1).
bool Encodable(const char* in, size_t dim, int bits) {
  const auto* packed = reinterpret_cast<const unsigned char*>(in + 1);
  if (bits == 8) {
    for (size_t k = 0; k < dim; ++k) {
      if (packed[k] == 0x80) return false;
    }
    return true;
  }
  const size_t half = (dim + 1) / 2;
  for (size_t k = 0; k < half; ++k) {
    if ((packed[k] & 0xf) == 0x8) return false;
    if (k < dim - half && (packed[k] >> 4) == 0x8) return false;
  }
  return true;
}

void CheckQuantizedRow(const char* in, size_t dim, int bits, const float* out) {
  const size_t bytes = dim * sizeof(float);
  std::vector<float> decoded(dim), a(dim, 0.0f), b(dim, 0.0f);
  DecodeQuantizedRow(in, dim, bits, decoded.data());
  AddQuantizedRow(in, dim, bits, a.data(), b.data());
  if (std::memcmp(decoded.data(), out, bytes) != 0 || std::memcmp(a.data(), out, bytes) != 0 ||
      std::memcmp(b.data(), out, bytes) != 0) {
    std::abort();
  }
  if (!Encodable(in, dim, bits)) return;
  for (size_t k = 0; k < dim; ++k) {
    if (!std::isfinite(out[k])) return;  // 127 * 2^127 is past the floats.
  }
  std::string again(QuantizedRowBytes(dim, bits), '\0');
  EncodeQuantizedRow(out, dim, bits, again.data());
  DecodeQuantizedRow(again.data(), dim, bits, decoded.data());
  if (std::memcmp(decoded.data(), out, bytes) != 0) std::abort();
}

// A WireReader that checks each read against the bytes it knows are left.
class Reader {
 public:
  explicit Reader(std::string_view in) : r_(in), left_(in.size()) {}

  bool U8(uint8_t* v) { return Took(r_.U8(v), 1); }
  bool U32(uint32_t* v) { return Took(r_.U32(v), 4); }
  bool U64(uint64_t* v) { return Took(r_.U64(v), 8); }
  bool F32(float* v) { return Took(r_.F32(v), 4); }
  bool Id(bool narrow, uint64_t* id) {
    const char* at = r_.rest().data();
    if (!Took(r_.Id(narrow, id), narrow ? 4 : 8)) return false;
    uint64_t expected = 0;
    if (narrow) {
      uint32_t v;
      std::memcpy(&v, at, sizeof(v));
      expected = v;
    } else {
      std::memcpy(&expected, at, sizeof(expected));
    }
    if (*id != expected) std::abort();
    return true;
  }
  bool Values(size_t n, bool fp16, float* out) {
    const char* at = r_.rest().data();
    if (!Took(r_.Values(n, fp16, out), n * WireValueBytes(fp16))) return false;
    CheckValues(at, n, fp16, out);
    return true;
  }
  bool SkipValues(size_t n, bool fp16) {
    return Took(r_.SkipValues(n, fp16), n * WireValueBytes(fp16));
  }
  bool QuantizedRow(size_t dim, int bits, float* out) {
    const char* at = r_.rest().data();
    if (!Took(r_.QuantizedRow(dim, bits, out), QuantizedRowBytes(dim, bits))) return false;
    CheckQuantizedRow(at, dim, bits, out);
    return true;
  }
  bool Skip(size_t n) { return Took(r_.Skip(n), n); }
  size_t remaining() const { return r_.remaining(); }
  std::string_view rest() const { return r_.rest(); }

 private:
  bool Took(bool read, size_t n) {
    if (read != (n <= left_)) std::abort();
    if (read) left_ -= n;
    if (r_.remaining() != left_ || r_.rest().size() != left_) std::abort();
    return read;
  }

  WireReader r_;
  size_t left_;
};

// ServePull: ticket u64, tables u32, per table: table u32, count u32, ids.
void PullRequest(Reader& r, const Wire& wire) {
  const size_t id_bytes = wire.narrow ? 4 : 8;
  uint64_t ticket = 0;
  uint32_t used = 0;
  if (!r.U64(&ticket) || !r.U32(&used)) return;
  // Its first pass, which sizes the reply from the tables' headers.
  Reader scan = r;
  for (uint32_t s = 0; s < used; ++s) {
    uint32_t table = 0, count = 0;
    if (!scan.U32(&table) || !scan.U32(&count) || table >= kNumTables ||
        scan.remaining() < size_t{count} * id_bytes || !scan.Skip(size_t{count} * id_bytes)) {
      break;
    }
  }
  for (uint32_t s = 0; s < used; ++s) {
    uint32_t table = 0, count = 0;
    if (!r.U32(&table) || !r.U32(&count) || table >= kNumTables) return;
    for (uint32_t i = 0; i < count; ++i) {
      RowId id = 0;
      if (!r.Id(wire.narrow, &id) || id >= kTables[table].rows || id % kRanks != kRank) return;
    }
  }
}

// ServePush: ticket u64, kind u8, defer u8, quantized u8, padding u8, rate
// f32, client u32, tables u32, per table: table u32, count u32, ids, rows.
void PushRequest(Reader& r, const Wire& wire) {
  const size_t id_bytes = wire.narrow ? 4 : 8;
  uint64_t ticket = 0;
  uint8_t kind = 0, defer = 0, quantized = 0, padding = 0;
  float rate = 0;
  uint32_t client = 0, used = 0;
  if (!r.U64(&ticket) || !r.U8(&kind) || !r.U8(&defer) || !r.U8(&quantized) || !r.U8(&padding) ||
      !r.F32(&rate) || !r.U32(&client) || !r.U32(&used)) {
    return;
  }
  std::vector<float> row;
  for (uint32_t s = 0; s < used; ++s) {
    uint32_t table = 0, count = 0;
    if (!r.U32(&table) || !r.U32(&count) || table >= kNumTables) return;
    if (count > r.remaining() / id_bytes) return;
    for (uint32_t i = 0; i < count; ++i) {
      RowId id = 0;
      if (!r.Id(wire.narrow, &id) || id >= kTables[table].rows || id % kRanks != kRank) return;
    }
    const size_t dim = kTables[table].dim;
    row.resize(dim);
    for (uint32_t i = 0; i < count; ++i) {
      // fp32 values that lie aligned are applied where they lie, unread.
      const bool in_place = quantized == 0 && !wire.fp16 &&
                            reinterpret_cast<uintptr_t>(r.rest().data()) % alignof(float) == 0;
      bool read = false;
      if (quantized != 0) {
        read = wire.bits > 0 && r.QuantizedRow(dim, wire.bits, row.data());
      } else {
        read = in_place ? r.SkipValues(dim, false) : r.Values(dim, wire.fp16, row.data());
      }
      if (!read) return;
    }
  }
}

// TakeReply: ticket u64, code u8, then an error's message length u32 and
// message, or a pull's values, or a PullChanged's rows per range (here one
// range per table, all its rows, as a Replica asks): count u32, ids, rows.
void Reply(Reader& r, const Wire& wire, MessageType type) {
  const size_t id_bytes = wire.narrow ? 4 : 8;
  uint64_t ticket = 0;
  uint8_t code = 0;
  if (!r.U64(&ticket) || !r.U8(&code)) return;
  if (code != 0) {
    uint32_t length = 0;
    if (r.U32(&length) && r.remaining() >= length) (void)std::string(r.rest().substr(0, length));
    return;
  }
  if (type == MessageType::kPullReply) {
    // The size the request asked for: here whatever whole values are left.
    const size_t value_bytes = WireValueBytes(wire.fp16);
    if (r.remaining() % value_bytes != 0) return;
    std::vector<float> values(r.remaining() / value_bytes);
    if (!r.Values(values.size(), wire.fp16, values.data()) || r.remaining() != 0) std::abort();
    return;
  }
  if (type != MessageType::kPullChangedReply) return;
  const bool deltas = wire.bits > 0 && !wire.first;
  const bool fp16 = wire.fp16 && wire.bits == 0;
  for (const Shape& shape : kTables) {
    const size_t dim = shape.dim;
    const size_t row_bytes =
        deltas ? QuantizedRowBytes(dim, wire.bits) : dim * WireValueBytes(fp16);
    uint32_t count = 0;
    if (!r.U32(&count) || r.remaining() < size_t{count} * (id_bytes + row_bytes)) return;
    for (uint32_t i = 0; i < count; ++i) {
      RowId id = 0;
      if (!r.Id(wire.narrow, &id) || id >= shape.rows) return;
    }
    if (deltas) {
      // Kept as they came, then added to the client's rows
      // (Replica::MergeSync), row by row.
      const std::string packed(r.rest().substr(0, size_t{count} * row_bytes));
      if (!r.Skip(packed.size())) std::abort();
      std::vector<float> row(dim);
      for (uint32_t i = 0; i < count; ++i) {
        DecodeQuantizedRow(&packed[i * row_bytes], dim, wire.bits, row.data());
        CheckQuantizedRow(&packed[i * row_bytes], dim, wire.bits, row.data());
      }
      continue;
    }
    std::vector<float> values(size_t{count} * dim);
    if (!r.Values(values.size(), fp16, values.data())) std::abort();
  }
}

// TakeShardChunk: table u32, first local index u64, count u32, fp32 rows.
void ShardChunk(Reader& r) {
  uint32_t table = 0, count = 0;
  uint64_t first = 0;
  if (!r.U32(&table) || !r.U64(&first) || !r.U32(&count) || table >= kNumTables) return;
  std::vector<float> row(kTables[table].dim);
  for (uint32_t i = 0; i < count; ++i) {
    const RowId id = (first + i) * kRanks + kSource;
    if (id >= kTables[table].rows || !r.Values(row.size(), false, row.data())) return;
  }
}

// ServePullChanged: ticket u64, client u32, mode u8, ranges u32, per range:
// table u32, begin u64, end u64.
void PullChangedRequest(Reader& r, const Wire& wire) {
  uint64_t ticket = 0;
  uint32_t client = 0, count = 0;
  uint8_t mode = 0;
  if (!r.U64(&ticket) || !r.U32(&client) || !r.U8(&mode) || !r.U32(&count)) return;
  if (mode > 3 || (mode != 0 && wire.bits == 0)) return;
  if (count > r.remaining() / 20) return;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t table = 0;
    uint64_t begin = 0, end = 0;
    if (!r.U32(&table) || !r.U64(&begin) || !r.U64(&end) || table >= kNumTables ||
        client == kNoClient) {
      return;
    }
  }
}

void Walk(std::string_view message, const Wire& wire) {
  // OnMessage: the header, which MpiCluster has routed by its store id.
  WireReader header(message);
  MessageType type;
  uint16_t store = 0;
  const auto first = message.empty() ? 0 : static_cast<uint8_t>(message[0]);
  const bool known = message.size() >= kMessageHeaderBytes &&
                     first >= static_cast<uint8_t>(MessageType::kPullRequest) &&
                     first <= static_cast<uint8_t>(MessageType::kTaskReply);
  if (header.Header(&type, &store) != known) std::abort();
  if (!known) return;
  if (store != PeekStoreId(message) || static_cast<uint8_t>(type) != first) std::abort();
  Reader r(message.substr(kMessageHeaderBytes));
  uint64_t ticket = 0, k = 0;
  uint32_t source = 0;
  switch (type) {
    case MessageType::kPullRequest:
      PullRequest(r, wire);
      break;
    case MessageType::kPushRequest:
      PushRequest(r, wire);
      break;
    case MessageType::kPullReply:
    case MessageType::kPushAck:
    case MessageType::kPullChangedReply:
      Reply(r, wire, type);
      break;
    case MessageType::kProgress:
      (void)r.U64(&k);
      break;
    case MessageType::kShardChunk:
      ShardChunk(r);
      break;
    case MessageType::kPullChangedRequest:
      PullChangedRequest(r, wire);
      break;
    case MessageType::kTaskRequest:  // ServeTask: ticket u64, task source u32.
      (void)(r.U64(&ticket) && r.U32(&source));
      break;
    case MessageType::kTaskReply:  // TakeTaskReply: ticket u64, task index u64.
      (void)(r.U64(&ticket) && r.U64(&k));
      break;
  }
}

}  // namespace
}  // namespace deepdist

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using deepdist::Wire;
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  // The store id, in the host's byte order.
  uint16_t store = 0;
  if (size >= deepdist::kMessageHeaderBytes) std::memcpy(&store, data + 2, sizeof(store));
  if (deepdist::PeekStoreId(message) != (size < deepdist::kMessageHeaderBytes ? -1 : store)) {
    std::abort();
  }
  for (bool narrow : {true, false}) {
    for (const Wire& wire : {Wire{false, 0, narrow, false}, Wire{true, 0, narrow, false},
                             Wire{false, 8, narrow, true}, Wire{false, 8, narrow, false},
                             Wire{false, 4, narrow, true}, Wire{false, 4, narrow, false}}) {
      deepdist::Walk(message, wire);
    }
  }
  return 0;
}
