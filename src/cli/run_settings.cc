#include "src/cli/run_settings.h"

#include <filesystem>

#include "src/core/atomic_file.h"

namespace deepdist::cli {

// The partitions a run trains, as a checkpoint keeps them (a resumed run
// trains the same ones whatever its threads or ranks): one per line,
// "begin end gzip size_hint path", and each file's size, checked on resume.
std::string SavePartitions(const std::vector<PartitionSpec>& parts) {
  std::ostringstream out;
  for (const PartitionSpec& p : parts) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(p.path, ec);
    out << p.begin << ' ' << p.end << ' ' << (p.gzip ? 1 : 0) << ' ' << p.size_hint << ' '
        << (ec ? 0 : size) << ' ' << p.path << '\n';
  }
  return out.str();
}

Result<std::vector<PartitionSpec>> LoadPartitions(const std::string& text,
                                                  const std::string& source) {
  std::vector<PartitionSpec> parts;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    PartitionSpec p;
    int gzip = 0;
    uintmax_t size = 0;
    if (!(fields >> p.begin >> p.end >> gzip >> p.size_hint >> size) || fields.get() != ' ') {
      return Status::Corruption(source + ": the saved partitions are damaged");
    }
    std::getline(fields, p.path);
    p.gzip = gzip != 0;
    std::error_code ec;
    const uintmax_t now = std::filesystem::file_size(p.path, ec);
    if (ec) return Status::NotFound(p.path + ": the checkpoint's input is missing");
    if (now != size) {
      return Status::InvalidArgument(p.path + ": changed since the checkpoint (" +
                                     std::to_string(now) + " bytes, was " + std::to_string(size) +
                                     ")");
    }
    parts.push_back(std::move(p));
  }
  if (parts.empty()) return Status::Corruption(source + ": no saved partitions");
  return parts;
}

Status PrepareCheckpointDir(const std::string& dir, bool clean) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create: " + ec.message());
  const std::string stale =
      std::filesystem::path(CheckpointPath(dir)).filename().string() + ".tmp.";
  if (clean) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      // A distributed run's shard files too (checkpoint_files.h).
      if (name.rfind(stale, 0) == 0 ||
          (name.rfind("shard-", 0) == 0 && name.find(".ddc.tmp.") != std::string::npos)) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
  }
  return AtomicFile::CheckWritable(CheckpointPath(dir));
}

}  // namespace deepdist::cli
