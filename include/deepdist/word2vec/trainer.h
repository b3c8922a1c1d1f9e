// Trainer: word2vec (skip-gram or CBOW, negative sampling) on a ParamStore.
//
// The model has two tables, "in" (the word vectors, initialised uniformly in
// +-1/dim as gensim does) and "out" (the negative-sampling weights,
// zero). Worker threads take (epoch, partition) tasks in order, stream their
// partition, look words up, subsample, and train sentence by sentence:
//  - Hogwild path: when the store hands out its master tables (SGD in the
//    embedded store), workers update the master rows in place;
//  - store path: otherwise (AdaGrad, or a remote store), a worker pulls the
//    rows a batch of words will touch, trains the batch on that replica, and
//    pushes the accumulated gradient back; the store's descent rule applies it.
// The learning rate decays linearly over the planned words in both paths,
// from alpha to min_alpha, by default alpha / (4 * epochs) for skip-gram and
// alpha / (2 * epochs) for CBOW: a one-pass run still learns at a quarter
// (half) of its rate at the end, a five-epoch run anneals to a twentieth
// (tenth). docs/BENCHMARKS.md has the measurements behind the choice.
// Train blocks until all workers have joined; a worker's failure (a truncated
// .gz, say) stops the others and is returned.
#ifndef DEEPDIST_WORD2VEC_TRAINER_H_
#define DEEPDIST_WORD2VEC_TRAINER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/status.h"
#include "deepdist/store.h"
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
  // skip-gram, alpha / (2 * epochs) for CBOW.
  float min_alpha = 0.0f;
  uint64_t seed = 1;
  // Words per pull/train/push round on the store path.
  size_t batch_words = 10000;
  // Take the store path even where the Hogwild path is allowed.
  bool force_store_path = false;
  // Synchronous rounds, as Spark MLlib trains: every worker pulls the same
  // model, trains one batch on its replica, and the workers' gradients,
  // divided by the number of workers, are all pushed before the next round
  // starts. Implies the store path. For comparison with the default
  // asynchronous (Downpour-like) mode.
  bool sync = false;
  // Skip-gram kernel: false for word2vec.c's per-pair updates, true for
  // negatives shared across each window (the window's inputs and targets
  // updated together as small matrix products). CBOW is the same either way.
  bool shared_negatives = true;
};

struct TrainProgress {
  double fraction = 0;  // 0..1 of the planned words.
  uint64_t words = 0;   // Corpus tokens read so far.
  double seconds = 0;   // Since training started.
  float learning_rate = 0;
  double loss = 0;  // Mean loss per pair, recent.
};

struct TrainStats {
  uint64_t words = 0;  // Corpus tokens read over all epochs (before min-count).
  double seconds = 0;
  double loss = 0;  // Mean loss per pair over the last epoch's tasks.
  double first_epoch_loss = 0;
  std::vector<double> epoch_loss;  // Mean loss per pair, per epoch.
};

class Trainer {
 public:
  Trainer(const Vocabulary& vocab, const TrainerOptions& options);

  // A fresh model for this vocabulary: "in" random (from options.seed), "out" zero.
  Model NewModel() const;

  // The rate schedule Train follows (alpha decaying to the resolved
  // min_alpha); a store's SGD descent should be built with it, so that the
  // store path applies gradients at the rate the kernel trained with.
  LearningRate Schedule() const;

  // Trains the store's model on `partitions` (listed with SplitOn::kWords).
  // `on_progress`, when given, is called from this thread about every 100 ms.
  [[nodiscard]] Result<TrainStats> Train(
      const std::vector<PartitionSpec>& partitions, ParamStore& store,
      const std::function<void(const TrainProgress&)>& on_progress = {});

 private:
  const Vocabulary& vocab_;
  TrainerOptions options_;
};

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_WORD2VEC_TRAINER_H_
