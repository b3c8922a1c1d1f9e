#include "deepdist/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/core/atomic_file.h"

namespace deepdist {

namespace {

constexpr std::string_view kMagic = "DDCKPT01";

void AppendU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t ReadLE(std::string_view bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes lengths as uInt: feed large inputs in pieces.
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t n = std::min<size_t>(bytes.size() - at, size_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
    at += n;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

void Checkpoint::Put(const std::string& name, std::string bytes) {
  DD_CHECK(!name.empty() && name.size() <= kMaxName);
  sections_[name] = std::move(bytes);
}

void Checkpoint::PutTable(const std::string& name, const Table& table) {
  PutRows(name, table.rows(), table.dim(), table.data(), table.stride());
}

void Checkpoint::PutRows(const std::string& name, size_t rows, size_t dim, const float* data,
                         size_t stride) {
  std::string bytes;
  bytes.reserve(16 + rows * dim * sizeof(float));
  AppendU64(&bytes, rows);
  AppendU64(&bytes, dim);
  for (size_t r = 0; r < rows; ++r) {
    bytes.append(reinterpret_cast<const char*>(data + r * stride), dim * sizeof(float));
  }
  Put(name, std::move(bytes));
}

const std::string* Checkpoint::Get(const std::string& name) const {
  auto it = sections_.find(name);
  return it == sections_.end() ? nullptr : &it->second;
}

Status Checkpoint::GetTable(const std::string& name, Table* table) const {
  const std::string* bytes = Get(name);
  if (bytes == nullptr) return Status::Corruption(source_ + ": no section " + name);
  if (bytes->size() < 16) return Status::Corruption(source_ + ": " + name + ": truncated");
  const uint64_t rows = ReadLE(*bytes, 0, 8), dim = ReadLE(*bytes, 8, 8);
  if (rows != table->rows() || dim != table->dim()) {
    return Status::InvalidArgument(source_ + ": " + name + ": " + std::to_string(rows) + " x " +
                                   std::to_string(dim) + " values, the model has " +
                                   std::to_string(table->rows()) + " x " +
                                   std::to_string(table->dim()));
  }
  if (bytes->size() != 16 + rows * dim * sizeof(float)) {
    return Status::Corruption(source_ + ": " + name + ": " + std::to_string(bytes->size()) +
                              " bytes for " + std::to_string(rows) + " x " + std::to_string(dim));
  }
  const char* p = bytes->data() + 16;
  for (RowId r = 0; r < rows; ++r) {
    std::memcpy(table->row(r), p + r * dim * sizeof(float), dim * sizeof(float));
  }
  return Status::OK();
}

std::string Checkpoint::Serialize() const {
  size_t total = kMagic.size() + 4 + 4;
  for (const auto& [name, bytes] : sections_) total += 12 + name.size() + bytes.size();
  std::string out;
  out.reserve(total);
  out.append(kMagic);
  AppendU32(&out, static_cast<uint32_t>(sections_.size()));
  for (const auto& [name, bytes] : sections_) {
    AppendU32(&out, static_cast<uint32_t>(name.size()));
    out.append(name);
    AppendU64(&out, bytes.size());
    out.append(bytes);
  }
  AppendU32(&out, Crc32(out));
  return out;
}

Status Checkpoint::Save(const std::string& path) const {
  // Written section by section (the tables are most of it: no second copy
  // of them in memory), the CRC-32 taken along the way.
  AtomicFile file(path);
  DD_RETURN_IF_ERROR(file.Open());
  uLong crc = crc32(0L, Z_NULL, 0);
  bool ok = true;
  auto write = [&](std::string_view bytes) {
    if (!ok) return;
    size_t at = 0;
    while (at < bytes.size()) {
      const size_t n = std::min<size_t>(bytes.size() - at, size_t{1} << 30);
      crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
      at += n;
    }
    ok = std::fwrite(bytes.data(), 1, bytes.size(), file.stream()) == bytes.size();
  };
  std::string header(kMagic);
  AppendU32(&header, static_cast<uint32_t>(sections_.size()));
  write(header);
  for (const auto& [name, bytes] : sections_) {
    std::string head;
    AppendU32(&head, static_cast<uint32_t>(name.size()));
    head.append(name);
    AppendU64(&head, bytes.size());
    write(head);
    write(bytes);
  }
  std::string tail;
  AppendU32(&tail, static_cast<uint32_t>(crc));
  write(tail);
  if (!ok) return Status::IOError(path + ": write failed: " + std::strerror(errno));
  return file.Commit();
}

Result<Checkpoint> Checkpoint::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read failed");
  return Parse(text.view(), path);
}

Result<Checkpoint> Checkpoint::Parse(std::string_view bytes, const std::string& source) {
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(source + ": not a whole deepdist checkpoint: " + why);
  };
  if (bytes.size() < kMagic.size() + 8 || bytes.substr(0, kMagic.size()) != kMagic) {
    return corrupt(bytes.size() < kMagic.size() + 8 ? "too short" : "wrong header");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  if (Crc32(body) != ReadLE(bytes, bytes.size() - 4, 4)) return corrupt("checksum mismatch");
  size_t at = kMagic.size();
  const uint64_t count = ReadLE(body, at, 4);
  at += 4;
  if (count > kMaxSections) return corrupt(std::to_string(count) + " sections");
  Checkpoint checkpoint;
  checkpoint.source_ = source;
  for (uint64_t i = 0; i < count; ++i) {
    if (body.size() - at < 4) return corrupt("section " + std::to_string(i) + " cut short");
    const uint64_t name_size = ReadLE(body, at, 4);
    at += 4;
    if (name_size == 0 || name_size > kMaxName || body.size() - at < name_size + 8) {
      return corrupt("section " + std::to_string(i) + ": bad name");
    }
    std::string name(body.substr(at, name_size));
    at += name_size;
    const uint64_t size = ReadLE(body, at, 8);
    at += 8;
    if (size > body.size() - at) {
      return corrupt(name + ": " + std::to_string(size) + " bytes, " +
                     std::to_string(body.size() - at) + " left");
    }
    if (checkpoint.sections_.count(name) > 0) return corrupt(name + ": twice");
    checkpoint.sections_.emplace(std::move(name), std::string(body.substr(at, size)));
    at += size;
  }
  if (at != body.size())
    return corrupt(std::to_string(body.size() - at) + " bytes after the sections");
  return checkpoint;
}

}  // namespace deepdist
