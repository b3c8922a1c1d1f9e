#include "deepdist/word2vec/trainer.h"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

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
  std::atomic<uint64_t> next_task{0};
  std::atomic<uint64_t> vocab_words_done{0};  // Drives the learning rate.
  std::atomic<uint64_t> tokens_read{0};
  std::atomic<bool> stop{false};
  std::atomic<size_t> running{0};
  std::mutex mu;  // Guards what follows.
  Status error;
  std::vector<double> epoch_loss;
  std::vector<uint64_t> epoch_pairs;
  double recent_loss = 0;
};

// Buffers of one worker on the store path: its replica of pulled rows.
struct Replica {
  std::vector<int32_t> remap;  // Word -> replica row, -1 when absent.
  std::vector<int32_t> touched;
  std::vector<RowId> ids;
  std::vector<float> dense_in, dense_out;  // Pulled values, dim each.
  Table in{"in", 0, 1};
  Table out{"out", 0, 1};
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

  Table* direct_in = store.DirectTable(kTableIn);
  Table* direct_out = store.DirectTable(kTableOut);
  const bool hogwild =
      direct_in != nullptr && direct_out != nullptr && !o.force_store_path && !o.sync;
  // Sync mode: rounds of (pull, train one batch, wait for all, push the
  // averaged gradient, wait for all). A worker that runs out of work drops out.
  std::optional<std::barrier<>> rounds;
  if (o.sync) rounds.emplace(static_cast<std::ptrdiff_t>(o.threads));
  const float push_scale = o.sync ? 1.0f / static_cast<float>(o.threads) : 1.0f;
  const double planned =
      static_cast<double>(o.epochs) * static_cast<double>(vocab_.train_words()) + 1.0;
  const uint64_t total_tasks = o.epochs * partitions.size();
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
    Replica replica;
    if (!hogwild) replica.remap.assign(vocab_.size(), -1);
    float alpha = schedule.At(static_cast<double>(shared.vocab_words_done.load()) / planned);

    // Trains one batch through the store: pull, train on the replica, push.
    auto train_via_store = [&](const int32_t* words, size_t n, uint64_t* rng, KernelStats* stats) {
      uint64_t replay = *rng;
      replica.touched.clear();
      PlanSentence(config, words, n, rng, &replica.touched);
      // The batch's own words come first in `touched` (their "in" rows are
      // the only ones the kernel changes); negatives follow ("out" rows only).
      replica.ids.clear();
      size_t in_rows = 0;
      for (size_t i = 0; i < replica.touched.size(); ++i) {
        const int32_t w = replica.touched[i];
        if (replica.remap[w] < 0) {
          replica.remap[w] = static_cast<int32_t>(replica.ids.size());
          replica.ids.push_back(static_cast<RowId>(w));
        }
        if (i + 1 == n) in_rows = replica.ids.size();
      }
      const size_t rows = replica.ids.size();
      const std::span<const RowId> in_ids(replica.ids.data(), in_rows);
      if (replica.out.rows() < rows) {  // Grow with headroom; batches vary a little.
        replica.in = Table("in", rows + rows / 4, dim);
        replica.out = Table("out", rows + rows / 4, dim);
      }
      replica.dense_in.resize(rows * dim);
      replica.dense_out.resize(rows * dim);
      Status s = store.Pull(kTableIn, in_ids, replica.dense_in.data());
      if (s.ok()) s = store.Pull(kTableOut, replica.ids, replica.dense_out.data());
      if (!s.ok()) return s;
      for (size_t r = 0; r < in_rows; ++r) {
        std::memcpy(replica.in.row(r), &replica.dense_in[r * dim], dim * sizeof(float));
      }
      for (size_t r = 0; r < rows; ++r) {
        std::memcpy(replica.out.row(r), &replica.dense_out[r * dim], dim * sizeof(float));
      }
      TrainSentence(config, words, n, alpha, &replay,
                    {replica.in.data(), replica.out.data(), replica.remap.data()}, scratch, stats);
      // The gradient that SGD at rate alpha would turn into the same change
      // (averaged over the workers in sync mode).
      const float inv_alpha = push_scale / alpha;
      for (size_t r = 0; r < in_rows; ++r) {
        float* gi = &replica.dense_in[r * dim];
        const float* ai = replica.in.row(r);
        for (size_t k = 0; k < dim; ++k) gi[k] = (gi[k] - ai[k]) * inv_alpha;
      }
      for (size_t r = 0; r < rows; ++r) {
        float* go = &replica.dense_out[r * dim];
        const float* ao = replica.out.row(r);
        for (size_t k = 0; k < dim; ++k) go[k] = (go[k] - ao[k]) * inv_alpha;
      }
      for (RowId w : replica.ids) replica.remap[w] = -1;
      if (rounds) rounds->arrive_and_wait();  // Everyone has computed on the same model.
      s = store.Push(kTableIn, in_ids, replica.dense_in.data());
      if (s.ok()) s = store.Push(kTableOut, replica.ids, replica.dense_out.data());
      if (rounds) rounds->arrive_and_wait();  // Everyone's update is in.
      return s;
    };

    for (;;) {
      const uint64_t task = shared.next_task.fetch_add(1);
      if (task >= total_tasks || shared.stop) break;
      const size_t epoch = task / partitions.size();
      const PartitionSpec& part = partitions[task % partitions.size()];
      uint64_t rng = o.seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)) ^
                     (0xC2B2AE3D27D4EB4Full * (task % partitions.size() + 1));
      NextRandom(&rng);
      KernelStats stats;
      KernelStats checkpoint_stats;
      uint64_t tokens = 0, vocab_words = 0, since_checkpoint = 0;
      Status status;

      auto flush = [&]() {
        if (sentence.empty() || !status.ok()) {
          sentence.clear();
          return;
        }
        if (hogwild) {
          TrainSentence(config, sentence.data(), sentence.size(), alpha, &rng,
                        {direct_in->data(), direct_out->data(), nullptr}, scratch, &stats);
        } else {
          for (size_t b = 0; b < sentence.size() && status.ok(); b += o.batch_words) {
            const size_t n = std::min(o.batch_words, sentence.size() - b);
            status = train_via_store(sentence.data() + b, n, &rng, &stats);
          }
        }
        sentence.clear();
      };
      auto checkpoint = [&]() {
        const uint64_t done =
            shared.vocab_words_done.fetch_add(since_checkpoint) + since_checkpoint;
        shared.tokens_read.fetch_add(tokens);
        tokens = 0;
        since_checkpoint = 0;
        const double progress = static_cast<double>(done) / planned;
        alpha = schedule.At(progress);
        store.descent().set_progress(progress);
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
              ++vocab_words;
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
    if (rounds) rounds->arrive_and_drop();
    shared.running.fetch_sub(1);
  };

  std::vector<std::thread> threads;
  shared.running = o.threads;
  for (size_t t = 0; t < o.threads; ++t) threads.emplace_back(worker);
  while (shared.running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (on_progress && shared.running.load() > 0) {
      TrainProgress p;
      p.fraction = std::min(1.0, static_cast<double>(shared.vocab_words_done.load()) / planned);
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

  TrainStats stats;
  stats.words = shared.tokens_read.load();
  stats.seconds = SecondsSince(start);
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
