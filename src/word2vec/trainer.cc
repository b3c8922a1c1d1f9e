#include "deepdist/word2vec/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "deepdist/replica.h"
#include "src/word2vec/negative_table.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::word2vec {

namespace {

constexpr size_t kMaxSentence = 10000;        // Words; longer lines are cut (as gensim does).
constexpr uint64_t kCheckpointWords = 10000;  // Rate and progress refresh (as word2vec.c).
constexpr size_t kTableIn = 0;
constexpr size_t kTableOut = 1;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// State shared by the workers of one Train call. Counters are touched once per
// kCheckpointWords words, not per word, so they do not bounce between cores.
struct Shared {
  std::atomic<uint64_t> tokens_read{0};
  std::atomic<bool> stop{false};
  std::atomic<size_t> running{0};
  std::mutex mu;  // Guards what follows.
  Status error;
  std::vector<double> epoch_loss;
  std::vector<uint64_t> epoch_pairs;
  double recent_loss = 0;
};

}  // namespace

Trainer::Trainer(const Vocabulary& vocab, const TrainerOptions& options)
    : vocab_(vocab), options_(options) {}

Model Trainer::NewModel() const {
  Model model;
  const size_t rows = vocab_.size();
  const size_t dim = options_.dim;
  model.AddTable("in", rows, dim);
  model.AddTable("out", rows, dim);
  Table& in = model.table(kTableIn);
  uint64_t rng = options_.seed;
  const float scale = 1.0f / static_cast<float>(dim);
  for (size_t r = 0; r < rows; ++r) {
    float* row = in.row(r);
    for (size_t i = 0; i < dim; ++i) {
      const float u = static_cast<float>(NextRandom(&rng) >> 40) * (1.0f / 16777216.0f);
      row[i] = (2.0f * u - 1.0f) * scale;
    }
  }
  return model;
}

LearningRate Trainer::Schedule() const {
  const TrainerOptions& o = options_;
  // The default end points were measured best at 1 epoch, and safe at 5
  // (docs/BENCHMARKS.md, "Learning-rate schedule").
  const float per_epoch = o.model == Architecture::kCbow ? 2.0f : 4.0f;
  const float min_alpha =
      o.min_alpha > 0 ? o.min_alpha
                      : o.alpha / (per_epoch * static_cast<float>(std::max<size_t>(1, o.epochs)));
  return LearningRate{o.alpha, true, std::min(1.0f, min_alpha / o.alpha)};
}

Result<TrainStats> Trainer::Train(const std::vector<PartitionSpec>& partitions, ParamStore& store,
                                  const std::function<void(const TrainProgress&)>& on_progress) {
  const TrainerOptions& o = options_;
  DD_CHECK(store.num_tables() >= 2 && store.rows(kTableIn) == vocab_.size());
  DD_CHECK(o.window > 0 && o.negative >= 0 && o.epochs > 0 && o.threads > 0);
  const size_t dim = store.dim(kTableIn);
  const size_t stride = (dim + Table::kRowAlign - 1) / Table::kRowAlign * Table::kRowAlign;

  const NegativeTable negatives(vocab_.counts());
  const std::vector<uint32_t> keep =
      SubsampleThresholds(vocab_.counts(), o.sample, vocab_.train_words());
  KernelConfig config;
  config.cbow = o.model == Architecture::kCbow;
  config.window = o.window;
  config.negative = o.negative;
  config.stride = stride;
  config.negatives = &negatives;
  config.shared_negatives = o.shared_negatives;

  ReplicaOptions replica_options;
  replica_options.push_every = o.push_every;
  replica_options.fetch_every = o.sync ? 0 : o.fetch_every;
  replica_options.allow_direct = !o.force_store_path;
  replica_options.defer_to_round = o.sync;
  // Sync mode applies the workers' mean change.
  replica_options.push_scale =
      o.sync ? 1.0f / static_cast<float>(o.threads * static_cast<size_t>(store.ranks())) : 1.0f;
  std::unique_ptr<Rounds> rounds;
  if (o.sync) rounds = store.NewRounds(o.threads);
  const uint64_t planned = o.epochs * vocab_.train_words() + 1;
  store.SetPlan(planned);
  const std::unique_ptr<TaskSource> tasks = store.NewTasks(partitions.size(), o.epochs);
  const LearningRate schedule = Schedule();

  Shared shared;
  shared.epoch_loss.assign(o.epochs, 0.0);
  shared.epoch_pairs.assign(o.epochs, 0);
  const Clock::time_point start = Clock::now();

  auto fail = [&](const Status& s) {
    std::lock_guard<std::mutex> lock(shared.mu);
    if (shared.error.ok()) shared.error = s;
    shared.stop = true;
  };

  auto worker = [&]() {
    std::vector<float> scratch_storage(ScratchFloats(config));
    float* scratch = scratch_storage.data();
    std::vector<int32_t> sentence;
    sentence.reserve(kMaxSentence);
    Replica replica(store, {kTableIn, kTableOut}, replica_options);
    std::vector<int32_t> touched;
    std::vector<RowId> touched_ids;
    float alpha = schedule.At(store.progress_fraction());
    uint64_t words_since_advance = 0;

    // Trains one batch on the replica: make its rows present, train, and let
    // the replica push or refresh when its intervals have passed.
    auto train_batch = [&](const int32_t* words, size_t n, uint64_t* rng, KernelStats* stats) {
      if (!replica.direct()) {
        uint64_t plan_rng = *rng;
        touched.clear();
        PlanSentence(config, words, n, &plan_rng, &touched);
        touched_ids.assign(touched.begin(), touched.end());
        DD_RETURN_IF_ERROR(replica.Require(touched_ids));
      }
      TrainSentence(config, words, n, alpha, rng,
                    {replica.base(0), replica.base(1), replica.remap()}, scratch, stats);
      if (rounds) {
        // Sync: everyone's change goes into the round; the next batch is
        // pulled at the model the round leaves.
        DD_RETURN_IF_ERROR(replica.Refresh(alpha));
        DD_RETURN_IF_ERROR(replica.Wait());
        Result<bool> more = rounds->Next(true);
        return more.status();
      }
      const uint64_t units = words_since_advance;
      words_since_advance = 0;
      return replica.Advance(units, alpha);
    };

    for (;;) {
      if (shared.stop) break;
      const std::optional<Task> task = tasks->Next();
      if (!task) break;
      const size_t epoch = task->epoch;
      const PartitionSpec& part = partitions[task->partition];
      uint64_t rng = o.seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)) ^
                     (0xC2B2AE3D27D4EB4Full * (task->partition + 1));
      NextRandom(&rng);
      KernelStats stats;
      KernelStats checkpoint_stats;
      uint64_t tokens = 0, since_checkpoint = 0;
      Status status;

      auto flush = [&]() {
        if (sentence.empty() || !status.ok()) {
          sentence.clear();
          return;
        }
        if (replica.direct()) {
          TrainSentence(config, sentence.data(), sentence.size(), alpha, &rng,
                        {replica.base(0), replica.base(1), nullptr}, scratch, &stats);
        } else {
          for (size_t b = 0; b < sentence.size() && status.ok(); b += o.batch_words) {
            const size_t n = std::min(o.batch_words, sentence.size() - b);
            status = train_batch(sentence.data() + b, n, &rng, &stats);
          }
        }
        sentence.clear();
      };
      auto checkpoint = [&]() {
        store.AddProgress(since_checkpoint);
        shared.tokens_read.fetch_add(tokens);
        tokens = 0;
        since_checkpoint = 0;
        alpha = schedule.At(store.progress_fraction());
        const uint64_t pairs = stats.pairs - checkpoint_stats.pairs;
        if (pairs > 0) {
          std::lock_guard<std::mutex> lock(shared.mu);
          shared.recent_loss = (stats.loss - checkpoint_stats.loss) / static_cast<double>(pairs);
        }
        checkpoint_stats = stats;
      };

      Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(part);
      if (!reader.ok()) {
        fail(reader.status());
        break;
      }
      status = (*reader)->ForEachChunk([&](std::string_view chunk) {
        if (shared.stop) return;
        Tokenize(
            chunk,
            [&](std::string_view w) {
              ++tokens;
              const int32_t id = vocab_.Find(w);
              if (id < 0) return;
              ++words_since_advance;
              if (++since_checkpoint >= kCheckpointWords) checkpoint();
              if (!KeepWord(keep[id], NextRandom(&rng))) return;
              sentence.push_back(id);
              if (sentence.size() >= kMaxSentence) flush();
            },
            [&] { flush(); });
      });
      flush();
      checkpoint();
      if (!status.ok()) {
        fail(status);
        break;
      }
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.epoch_loss[epoch] += stats.loss;
      shared.epoch_pairs[epoch] += stats.pairs;
    }
    if (rounds) {
      // Take part in the rounds until no worker anywhere has work left.
      for (;;) {
        Result<bool> more = rounds->Next(false);
        if (!more.ok()) {
          fail(more.status());
          break;
        }
        if (!*more) break;
      }
    } else {
      Status s = replica.Refresh(alpha);
      if (s.ok()) s = replica.Wait();
      if (!s.ok()) fail(s);
    }
    shared.running.fetch_sub(1);
  };

  std::vector<std::thread> threads;
  shared.running = o.threads;
  for (size_t t = 0; t < o.threads; ++t) threads.emplace_back(worker);
  while (shared.running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (on_progress && shared.running.load() > 0) {
      TrainProgress p;
      p.fraction = store.progress_fraction();
      p.words = shared.tokens_read.load();
      p.seconds = SecondsSince(start);
      p.learning_rate = schedule.At(p.fraction);
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        p.loss = shared.recent_loss;
      }
      on_progress(p);
    }
  }
  for (std::thread& t : threads) t.join();
  if (!shared.error.ok()) return shared.error;
  // Every rank's pushes are in before anyone reads the model.
  DD_RETURN_IF_ERROR(store.Barrier());

  TrainStats stats;
  stats.words = shared.tokens_read.load();
  stats.seconds = SecondsSince(start);
  stats.epoch_loss_sum = shared.epoch_loss;
  stats.epoch_pairs = shared.epoch_pairs;
  for (size_t e = 0; e < o.epochs; ++e) {
    stats.epoch_loss.push_back(shared.epoch_pairs[e] > 0
                                   ? shared.epoch_loss[e] /
                                         static_cast<double>(shared.epoch_pairs[e])
                                   : 0.0);
  }
  stats.loss = stats.epoch_loss.back();
  stats.first_epoch_loss = stats.epoch_loss.front();
  return stats;
}

}  // namespace deepdist::word2vec
