// The files of a --checkpoint folder, embedded and under MPI.
//
// An embedded run saves one file, checkpoint.ddc: the store's rows, the
// training state and what the command adds (settings, partitions, ...).
//
// A run of R ranks saves one file per rank, shard-<r>-of-<R>.<g>.ddc (the
// rows the rank holds, their optimizer state and the rank's training
// state), g counting the run's checkpoints. Once every rank's file is
// whole (an AllGather of how each save went), rank 0 saves checkpoint.ddc
// with what the command adds and the section "shards" = "R g", and removes
// the shard files of other checkpoints (an embedded save removes them
// all). Every file is written atomically (temporary file, fsync, rename),
// so a crash or kill at any point leaves the last checkpoint.ddc and the
// files it names whole. The folder must be one that every rank sees (a
// shared file system across nodes).
//
// Loading reads checkpoint.ddc and, for a distributed save, the shard files
// it names: the engine takes them all (Options::resume) on any number of
// ranks, embedded included.
#ifndef DEEPDIST_SRC_CLI_CHECKPOINT_FILES_H_
#define DEEPDIST_SRC_CLI_CHECKPOINT_FILES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/cluster.h"
#include "deepdist/status.h"

namespace deepdist::cli {

// A checkpoint as loaded from a folder.
struct SavedCheckpoint {
  Checkpoint main;                 // checkpoint.ddc: the command's sections.
  std::vector<Checkpoint> shards;  // A distributed save's shard files.
  uint64_t generation = 0;         // Its g (0: an embedded save).
  // What the engine resumes from: every rank's checkpoint of the save.
  std::vector<const Checkpoint*> parts() const;
};

// The checkpoint in `dir`: nullopt when there is none (a fresh run); a
// damaged, truncated or missing file is an error naming it.
[[nodiscard]] Result<std::optional<SavedCheckpoint>> LoadCheckpointDir(const std::string& dir);

// The generation of the distributed checkpoint in `dir` (0 when there is
// none, or an embedded one, or it cannot be read): a fresh run saving there
// starts after it.
uint64_t CurrentGeneration(const std::string& dir);

// The shard file of rank `rank` of `ranks` for checkpoint `generation`.
std::string ShardPath(const std::string& dir, int rank, int ranks, uint64_t generation);

// Saves a run's checkpoints in a folder, as above. Save is called by
// Options::on_checkpoint on every rank, in step (the engine's contract), and
// may use the cluster's collectives there.
class CheckpointWriter {
 public:
  // `sections` are added to checkpoint.ddc; `after` is the generation of
  // the folder's current checkpoint (SavedCheckpoint::generation, 0 when it
  // has none), so that no file it names is overwritten.
  CheckpointWriter(Cluster& cluster, std::string dir, std::map<std::string, std::string> sections,
                   uint64_t after);
  // Saves this rank's part of one checkpoint. An error is this rank's own
  // (the other ranks go on, and this rank's error ends the job); a rank
  // whose shard failed keeps every rank's from replacing the checkpoint.
  [[nodiscard]] Status Save(Checkpoint& mine);
  // Checkpoints saved whole so far (as this rank knows).
  size_t taken() const { return taken_; }
  // checkpoint.ddc in the folder.
  std::string path() const;

 private:
  // Removes the folder's shard files but those of `generation` (all for 0).
  void RemoveShardsBut(uint64_t generation) const;

  Cluster& cluster_;
  const std::string dir_;
  const std::map<std::string, std::string> sections_;
  uint64_t generation_;
  size_t taken_ = 0;
};

}  // namespace deepdist::cli

#endif  // DEEPDIST_SRC_CLI_CHECKPOINT_FILES_H_
