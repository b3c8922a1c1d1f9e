// The checkpoint reader: any bytes as a checkpoint file (Checkpoint::Parse),
// as they are and with their last 4 bytes replaced by the CRC-32 of the rest
// (a fuzzer's mutation almost never keeps the checksum right, and without
// this one it would not get past it to the sections); every section of a
// checkpoint that parses as the training state (TrainState::Parse) and as a
// 4 x 3 table (GetTable); and the bytes themselves as a training state.
// Each must return a value or an error, never crash or allocate what the
// bytes cannot hold, and what parses must come back the same when written
// out again and parsed: a checkpoint with the same sections, a training
// state with the same fields (and the same bytes: its layout has one
// encoding), a table as the same section.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "deepdist/checkpoint.h"
#include "deepdist/deepdist.h"

namespace {

bool Same(const deepdist::TrainState& a, const deepdist::TrainState& b) {
  if (a.tasks_started != b.tasks_started || a.progress != b.progress ||
      a.model_state != b.model_state || a.in_flight.size() != b.in_flight.size()) {
    return false;
  }
  for (size_t i = 0; i < a.in_flight.size(); ++i) {
    const deepdist::TaskState &x = a.in_flight[i], &y = b.in_flight[i];
    if (x.epoch != y.epoch || x.partition != y.partition || x.position != y.position) return false;
  }
  return true;
}

void CheckTrainState(std::string_view bytes) {
  auto state = deepdist::TrainState::Parse(bytes, "fuzz");
  if (!state.ok()) return;
  const std::string written = state->Serialize();
  if (written != bytes) std::abort();
  auto again = deepdist::TrainState::Parse(written, "fuzz");
  if (!again.ok() || !Same(*state, *again)) std::abort();
}

void CheckTable(const deepdist::Checkpoint& checkpoint, const std::string& name) {
  deepdist::Table table("fuzz", 4, 3);
  if (!checkpoint.GetTable(name, &table).ok()) return;
  // A table read whole is the section it came from, byte for byte.
  deepdist::Checkpoint out;
  out.PutTable(name, table);
  if (*out.Get(name) != *checkpoint.Get(name)) std::abort();
}

void CheckCheckpoint(std::string_view bytes) {
  auto checkpoint = deepdist::Checkpoint::Parse(bytes, "fuzz");
  if (!checkpoint.ok()) return;
  auto again = deepdist::Checkpoint::Parse(checkpoint->Serialize(), "fuzz");
  if (!again.ok() || again->sections() != checkpoint->sections()) std::abort();
  for (const auto& [name, section] : checkpoint->sections()) {
    CheckTrainState(section);
    CheckTable(*checkpoint, name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckCheckpoint(bytes);
  if (size >= 4) {
    std::string sealed(bytes);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), data, static_cast<uInt>(size - 4));
    for (int i = 0; i < 4; ++i) sealed[size - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    if (sealed != bytes) CheckCheckpoint(sealed);
  }
  CheckTrainState(bytes);
  return 0;
}
