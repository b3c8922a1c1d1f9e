// Checkpoint: what a training run needs to go on after it stops, as named
// sections of bytes in one file.
//
// A run's parts each put their own sections in (the store its rows and
// optimizer state, the engine where the workers stand, the model its
// settings and counters), and take them back out on resume. Save writes the
// file under a temporary name and renames it into place, so a crash while
// writing leaves the previous checkpoint whole; a CRC-32 of everything
// before it closes the file, so a damaged or truncated file is refused on
// load, naming it.
//
// File layout (integers little-endian):
//   "DDCKPT01"                      8 bytes
//   u32 sections
//   per section: u32 name length, name, u64 size, bytes
//   u32 CRC-32 (zlib's) of everything above
// Parse checks every length against the bytes left before it allocates.
#ifndef DEEPDIST_CHECKPOINT_H_
#define DEEPDIST_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist {

class Checkpoint {
 public:
  // Limits Parse enforces: on section names, and on their number.
  static constexpr size_t kMaxName = 256;
  static constexpr size_t kMaxSections = 1 << 16;

  // Adds or replaces a section.
  void Put(const std::string& name, std::string bytes);
  // A table's rows (packed, without the row padding), under `name`: u64
  // rows, u64 dim, then the values.
  void PutTable(const std::string& name, const Table& table);
  // The same for `rows` rows of `dim` floats, row i at data + i * stride.
  void PutRows(const std::string& name, size_t rows, size_t dim, const float* data, size_t stride);
  // A section, or null.
  const std::string* Get(const std::string& name) const;
  bool Has(const std::string& name) const { return sections_.count(name) > 0; }
  // Copies section `name` (written by PutTable) into `table`, which must
  // have its rows and dimension; errors name `source` and the section.
  [[nodiscard]] Status GetTable(const std::string& name, Table* table) const;
  const std::map<std::string, std::string>& sections() const { return sections_; }

  // Writes the checkpoint to `path` atomically (temporary file, fsync,
  // rename): on any failure the file at `path` is as it was.
  [[nodiscard]] Status Save(const std::string& path) const;
  // Reads `path`; a missing file is kNotFound, a damaged one kCorruption,
  // both naming the path.
  [[nodiscard]] static Result<Checkpoint> Load(const std::string& path);
  // Decodes a checkpoint file's bytes; `source` names them in errors.
  [[nodiscard]] static Result<Checkpoint> Parse(std::string_view bytes, const std::string& source);
  // The file's bytes.
  std::string Serialize() const;

  // Where source names where a checkpoint came from (its path).
  const std::string& source() const { return source_; }

 private:
  std::map<std::string, std::string> sections_;
  std::string source_;
};

}  // namespace deepdist

#endif  // DEEPDIST_CHECKPOINT_H_
