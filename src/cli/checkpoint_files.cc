#include "src/cli/checkpoint_files.h"

#include <filesystem>
#include <sstream>
#include <utility>

#include "src/cli/run_settings.h"

namespace deepdist::cli {

namespace {

constexpr uint64_t kMaxRanks = 1 << 20;

// "R g" of a "shards" section.
bool ParseShards(const std::string& text, uint64_t* ranks, uint64_t* generation) {
  std::istringstream in(text);
  std::string rest;
  return static_cast<bool>(in >> *ranks >> *generation) && !(in >> rest) && *ranks >= 1 &&
         *ranks <= kMaxRanks && *generation >= 1;
}

}  // namespace

std::vector<const Checkpoint*> SavedCheckpoint::parts() const {
  std::vector<const Checkpoint*> out;
  if (shards.empty()) {
    out.push_back(&main);
  } else {
    for (const Checkpoint& c : shards) out.push_back(&c);
  }
  return out;
}

std::string ShardPath(const std::string& dir, int rank, int ranks, uint64_t generation) {
  return dir + "/shard-" + std::to_string(rank) + "-of-" + std::to_string(ranks) + "." +
         std::to_string(generation) + ".ddc";
}

uint64_t CurrentGeneration(const std::string& dir) {
  Result<Checkpoint> main = Checkpoint::Load(CheckpointPath(dir));
  if (!main.ok()) return 0;
  const std::string* shards = main->Get("shards");
  uint64_t ranks = 0, generation = 0;
  return shards != nullptr && ParseShards(*shards, &ranks, &generation) ? generation : 0;
}

Result<std::optional<SavedCheckpoint>> LoadCheckpointDir(const std::string& dir) {
  Result<Checkpoint> main = Checkpoint::Load(CheckpointPath(dir));
  if (!main.ok()) {
    if (main.status().code() == Status::Code::kNotFound) return std::optional<SavedCheckpoint>();
    return main.status();
  }
  SavedCheckpoint saved;
  saved.main = std::move(*main);
  if (const std::string* shards = saved.main.Get("shards"); shards != nullptr) {
    uint64_t ranks = 0;
    if (!ParseShards(*shards, &ranks, &saved.generation)) {
      return Status::Corruption(saved.main.source() + ": shards: \"" + *shards +
                                "\" is not \"ranks generation\"");
    }
    for (uint64_t r = 0; r < ranks; ++r) {
      const std::string path =
          ShardPath(dir, static_cast<int>(r), static_cast<int>(ranks), saved.generation);
      Result<Checkpoint> shard = Checkpoint::Load(path);
      if (!shard.ok()) {
        if (shard.status().code() == Status::Code::kNotFound) {
          return Status::Corruption(path + ": missing (named by " + saved.main.source() + ")");
        }
        return shard.status();
      }
      saved.shards.push_back(std::move(*shard));
    }
  }
  return std::optional<SavedCheckpoint>(std::move(saved));
}

CheckpointWriter::CheckpointWriter(Cluster& cluster, std::string dir,
                                   std::map<std::string, std::string> sections, uint64_t after)
    : cluster_(cluster), dir_(std::move(dir)), sections_(std::move(sections)), generation_(after) {}

std::string CheckpointWriter::path() const { return CheckpointPath(dir_); }

void CheckpointWriter::RemoveShardsBut(uint64_t generation) const {
  std::error_code ec;
  const std::string current = "." + std::to_string(generation) + ".ddc";
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const bool shard = name.rfind("shard-", 0) == 0;
    const bool named = generation > 0 && name.size() > current.size() &&
                       name.compare(name.size() - current.size(), current.size(), current) == 0;
    if (shard && !named) std::filesystem::remove(entry.path(), ec);
  }
}

Status CheckpointWriter::Save(Checkpoint& mine) {
  const int ranks = cluster_.ranks();
  if (ranks == 1) {
    for (const auto& [name, bytes] : sections_) mine.Put(name, bytes);
    DD_RETURN_IF_ERROR(mine.Save(path()));
    RemoveShardsBut(0);  // A distributed checkpoint's, which this one replaces.
    ++taken_;
    return Status::OK();
  }
  const uint64_t generation = ++generation_;
  const int rank = cluster_.rank();
  const Status saved = mine.Save(ShardPath(dir_, rank, ranks, generation));
  // Every rank learns whether every shard is whole before rank 0 names them.
  Result<std::vector<std::string>> all = cluster_.AllGather(saved.ok() ? "" : "x");
  if (!all.ok()) return all.status();
  if (!saved.ok()) return saved;
  for (const std::string& other : *all) {
    if (!other.empty()) return Status::OK();  // That rank's error ends the job.
  }
  if (rank == 0) {
    Checkpoint main;
    for (const auto& [name, bytes] : sections_) main.Put(name, bytes);
    main.Put("shards", std::to_string(ranks) + " " + std::to_string(generation));
    DD_RETURN_IF_ERROR(main.Save(path()));
    RemoveShardsBut(generation);  // Earlier checkpoints' and saves cut short.
  }
  ++taken_;
  return Status::OK();
}

}  // namespace deepdist::cli
