// Trainer: word2vec (skip-gram or CBOW, negative sampling or hierarchical
// softmax) on a ParamStore.
//
// The model has two tables, "in" (the word vectors, initialised uniformly in
// +-1/dim as gensim does) and "out" (the negative-sampling weights, or the
// hierarchical softmax's tree nodes; zero). Worker threads take (epoch, partition) tasks from the
// store's task source (under MPI, each rank its share), stream their partition, look words up,
// subsample, and train sentence by sentence on their Replica:
//  - when the store hands out its master tables (SGD in the embedded store),
//    the replica is the master itself and workers update it in place
//    (Hogwild);
//  - otherwise (AdaGrad, the MPI store, sync mode, or push/fetch intervals
//    asked for), the rows a batch touches are pulled into the replica, the
//    kernel trains there, and the replica pushes its change every push_every
//    words; the store's descent rule applies it where the rows live.
// The learning rate follows the store's global progress (words done by every
// worker of every rank) and decays linearly over the planned words,
// from alpha to min_alpha, by default alpha / (4 * epochs) for skip-gram and
// alpha / (2 * epochs) for CBOW: a one-pass run still learns at a quarter
// (half) of its rate at the end, a five-epoch run anneals to a twentieth
// (tenth). Hierarchical softmax ends 2.5 times lower: alpha / (10 * epochs)
// and alpha / (5 * epochs). docs/BENCHMARKS.md has the measurements behind
// the choice.
// Train blocks until all workers have joined; a worker's failure (a truncated
// .gz, say) stops the others and is returned.
#ifndef DEEPDIST_WORD2VEC_TRAINER_H_
#define DEEPDIST_WORD2VEC_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/status.h"
#include "deepdist/store.h"
#include "deepdist/word2vec/vectors.h"
#include "deepdist/word2vec/vocabulary.h"

namespace deepdist::word2vec {

enum class Architecture { kSkipGram, kCbow };

struct TrainerOptions {
  Architecture model = Architecture::kSkipGram;
  size_t dim = 100;
  int window = 5;
  int negative = 5;
  double sample = 1e-4;
  size_t epochs = 5;
  size_t threads = 1;
  float alpha = 0.025f;  // Starting rate of the linear decay.
  // Rate at the end of the run; 0 or less means alpha / (4 * epochs) for
  // skip-gram, alpha / (2 * epochs) for CBOW, 2.5 times lower with
  // hierarchical softmax.
  float min_alpha = 0.0f;
  uint64_t seed = 1;
  // Words per planned batch on the replica path: the rows a batch touches
  // are made present in the worker's replica (one batched pull of the
  // missing ones) before the kernel trains it.
  size_t batch_words = 10000;
  // Downpour's intervals on the replica path, in in-vocabulary corpus words
  // each worker reads: push the replica's accumulated change every
  // push_every words, drop its rows (pulled fresh when next needed) every
  // fetch_every words. 0 means after every batch.
  uint64_t push_every = 0;
  uint64_t fetch_every = 0;
  // The hot_rows most frequent words are pushed and refreshed every
  // hot_every words (ReplicaOptions); 0 turns this off.
  uint64_t hot_rows = 0;
  uint64_t hot_every = 0;
  // Take the replica path even where the store allows Hogwild (the replica
  // being the master itself).
  bool force_store_path = false;
  // On the replica path, each worker mirrors the whole model
  // (ReplicaOptions::full) instead of the rows of its batches.
  bool full_replica = false;
  // Synchronous rounds, as Spark MLlib trains: in each round every worker
  // of every rank trains one batch on a replica pulled at the same model
  // version; the store applies the workers' mean change once, when the
  // round ends. For comparison with the default asynchronous (Downpour-like)
  // mode.
  bool sync = false;
  // Skip-gram kernel: false for word2vec.c's per-pair updates, true for
  // negatives shared across each window (the window's inputs and targets
  // updated together as small matrix products). CBOW is the same either way.
  bool shared_negatives = true;
  // Hierarchical softmax (word2vec.c's -hs 1 -negative 0) instead of
  // negative sampling: "out" holds the inner nodes of the vocabulary's
  // Huffman tree, and each pair trains the nodes on its word's path, pair by
  // pair (negative and shared_negatives are then unused).
  bool hierarchical_softmax = false;
  // Every snapshot_every seconds of training (0: never), the master "in"
  // rows (the word vectors, as a one-table Model) go to on_snapshot, pulled
  // while the workers go on (Options::snapshot_every). For the Train that
  // makes its own scope; a scope passed in has its own Options.
  double snapshot_every = 0;
  std::function<void(TrainSnapshot snapshot)> on_snapshot;
  // Options::interrupt, for the Train that makes its own scope.
  const std::atomic<bool>* interrupt = nullptr;
  // Checkpoints (Options::checkpoint_every, on_checkpoint, resume), for the
  // Train that makes its own scope. The trainer keeps its counters (words
  // read, losses) in TrainState::model_state. With threads = 1 and the same
  // seed, a run resumed from a checkpoint trains exactly what the
  // uninterrupted run would, on the Hogwild path: its vectors are
  // bit-identical.
  double checkpoint_every = 0;
  std::function<Status(Checkpoint& checkpoint)> on_checkpoint;
  std::vector<const Checkpoint*> resume;
};

struct TrainProgress {
  double fraction = 0;         // 0..1 of the planned words.
  uint64_t words = 0;          // Corpus tokens read so far.
  uint64_t resumed_words = 0;  // Of those, read before the resumed checkpoint.
  double seconds = 0;          // Since training started (this run's).
  float learning_rate = 0;
  double loss = 0;    // Mean loss per pair, recent.
  Activity activity;  // The scope's updates and per-worker staleness.
};

struct TrainStats {
  uint64_t words = 0;  // Corpus tokens read over all epochs (before min-count).
  // Of those, the ones read before the checkpoint a resumed run started
  // from (0 on a fresh run): `seconds` covers only the rest.
  uint64_t resumed_words = 0;
  double seconds = 0;
  double loss = 0;  // Mean loss per pair over the last epoch's tasks.
  double first_epoch_loss = 0;
  std::vector<double> epoch_loss;  // Mean loss per pair, per epoch.
  // Sums behind epoch_loss, so that ranks can combine them.
  std::vector<double> epoch_loss_sum;
  std::vector<uint64_t> epoch_pairs;
};

// The job's stats from every rank's: words summed, and each epoch's loss the
// mean over every rank's pairs (`loss` the last epoch's). A collective: every
// rank calls it with its own stats. A cluster of one returns `stats` as given.
[[nodiscard]] Result<TrainStats> CombineRanks(Cluster& cluster, const TrainStats& stats);

class Trainer {
 public:
  Trainer(const Vocabulary& vocab, const TrainerOptions& options);

  // A fresh model for this vocabulary: "in" random (from options.seed), "out" zero.
  Model NewModel() const;
  // Starts `model` (a NewModel()) from existing word vectors: the "in" row of
  // every vocabulary word found in `vectors` takes its vector; the other
  // words keep their random start, and "out" stays zero (a vectors file
  // holds input vectors only). The dimensions must agree. Returns how many
  // words were found.
  [[nodiscard]] Result<size_t> InitFromVectors(const Vectors& vectors, Model* model) const;

  // The rate schedule Train follows (alpha decaying to the resolved
  // min_alpha); a store's SGD descent should be built with it, so that the
  // store path applies gradients at the rate the kernel trained with.
  LearningRate Schedule() const;

  // Trains the store's model on `partitions` (listed with SplitOn::kWords;
  // every rank passes the same list). `on_progress`, when given, is called
  // from this thread about every 100 ms. Returns after this rank's workers
  // have finished and (under MPI) every rank's pushes have been applied;
  // the stats count this rank's work.
  [[nodiscard]] Result<TrainStats> Train(
      const std::vector<PartitionSpec>& partitions, ParamStore& store,
      const std::function<void(const TrainProgress&)>& on_progress = {});
  // The same through a DeepDist scope that owns its model (NewModel()) and
  // has this trainer's epochs: word2vec as the seed trains it,
  // dd.train(partitions, workers, descent). dd.model() holds the result.
  [[nodiscard]] Result<TrainStats> Train(
      const std::vector<PartitionSpec>& partitions, DeepDist& dd, const Descent& descent,
      const std::function<void(const TrainProgress&)>& on_progress = {});

 private:
  Result<TrainStats> Run(const std::vector<PartitionSpec>& partitions, DeepDist& dd,
                         const Descent* descent,
                         const std::function<void(const TrainProgress&)>& on_progress);

  const Vocabulary& vocab_;
  TrainerOptions options_;
};

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_WORD2VEC_TRAINER_H_
