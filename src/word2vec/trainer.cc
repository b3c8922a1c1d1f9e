#include "deepdist/word2vec/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>

#include "deepdist/deepdist.h"
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

// Where a worker stood in a task when it paused for a checkpoint: the number
// of the progress point it paused at, its loss counters then, and the rate
// of the batch waiting for its rows (replica path). Fixed-size binary.
struct TaskPosition {
  uint64_t checkpoints = 0;
  KernelStats stats, checkpoint_stats;
  float pending_alpha = 0;

  static constexpr size_t kBytes = 8 * 7 + 4;
  std::string Encode() const {
    std::string out(kBytes, '\0');
    char* p = out.data();
    auto put = [&p](const void* v, size_t n) {
      std::memcpy(p, v, n);
      p += n;
    };
    put(&checkpoints, 8);
    put(&stats.loss, 8);
    put(&stats.pairs, 8);
    put(&stats.inputs, 8);
    put(&checkpoint_stats.loss, 8);
    put(&checkpoint_stats.pairs, 8);
    put(&checkpoint_stats.inputs, 8);
    put(&pending_alpha, 4);
    return out;
  }
  static std::optional<TaskPosition> Decode(std::string_view bytes) {
    if (bytes.size() != kBytes) return std::nullopt;
    TaskPosition t;
    const char* p = bytes.data();
    auto get = [&p](void* v, size_t n) {
      std::memcpy(v, p, n);
      p += n;
    };
    get(&t.checkpoints, 8);
    get(&t.stats.loss, 8);
    get(&t.stats.pairs, 8);
    get(&t.stats.inputs, 8);
    get(&t.checkpoint_stats.loss, 8);
    get(&t.checkpoint_stats.pairs, 8);
    get(&t.checkpoint_stats.inputs, 8);
    get(&t.pending_alpha, 4);
    if (t.checkpoints == 0) return std::nullopt;
    return t;
  }
};

// State shared by the workers of one Train call. Counters are touched once per
// kCheckpointWords words, not per word, so they do not bounce between cores.
struct Shared {
  KernelConfig config;
  const Vocabulary* vocab = nullptr;
  const std::vector<uint32_t>* keep = nullptr;
  LearningRate schedule;
  const TrainerOptions* options = nullptr;
  ParamStore* store = nullptr;
  std::atomic<uint64_t> tokens_read{0};
  std::mutex mu;  // Guards what follows.
  std::vector<double> epoch_loss;
  std::vector<uint64_t> epoch_pairs;
  double recent_loss = 0;
};

// One worker thread: streams its partitions, looks words up, subsamples, and
// trains sentence by sentence on its replica.
class Word2VecWorker : public Worker {
 public:
  Word2VecWorker(Shared& shared, bool checkpoints)
      : shared_(shared), scratch_(ScratchFloats(shared.config)), checkpoints_on_(checkpoints) {
    sentence_.reserve(kMaxSentence);
  }

  Status Train(Replica& replica, Partition& data) override {
    const TrainerOptions& o = *shared_.options;
    const KernelConfig& config = shared_.config;
    const Vocabulary& vocab = *shared_.vocab;
    const std::vector<uint32_t>& keep = *shared_.keep;
    const size_t epoch = data.epoch();
    uint64_t rng = o.seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)) ^
                   (0xC2B2AE3D27D4EB4Full * (data.index() + 1));
    NextRandom(&rng);
    KernelStats stats;
    KernelStats checkpoint_stats;
    uint64_t tokens = 0, since_checkpoint = 0;
    // Hogwild AdaGrad (the master rows and the rule's accumulators in place):
    // the kernel moves rows by AdaGrad's step at the rule's own rate. Else
    // rows move by SGD at the trainer's schedule (on a replica, the store's
    // rule then takes the change as its gradient).
    float* const in_state = replica.direct_state(0);
    float* const out_state = replica.direct_state(1);
    auto rate = [&] {
      return in_state != nullptr ? shared_.store->learning_rate()
                                 : shared_.schedule.At(shared_.store->progress_fraction());
    };
    float alpha = rate();
    Status status;

    // Resuming a task a checkpoint paused: its words are read again from the
    // start without training, which walks the subsampling stream, the batch
    // count and the sentence being gathered to where they stood; training
    // goes on from the progress point the pause was at, so that a resumed
    // run trains exactly what the uninterrupted one would.
    std::optional<TaskPosition> resume;
    if (!data.resume_position().empty()) {
      resume = TaskPosition::Decode(data.resume_position());
      if (!resume) return Status::Corruption(data.spec().path + ": a damaged task position");
    }
    bool replaying = resume.has_value();
    uint64_t task_checkpoints = 0;

    // Each batch's kernel draws from its own random stream, seeded by its
    // position, so that a batch's random choices (window sizes, negatives)
    // are known before it trains: the replica path plans the next batch and
    // prefetches its rows while this one trains. Both paths train the same
    // batches with the same streams and rates.
    const uint64_t batch_seed = rng ^ 0xD6E8FEB86659FD93ull;
    uint64_t batches = 0;
    // A hashed start, not batch_seed + k * step: NextRandom walks its state
    // by a fixed step, so starts a step apart would give overlapping streams.
    auto seed_of = [&](uint64_t batch) {
      uint64_t s = batch_seed ^ (0xD1B54A32D192ED03ull * (batch + 1));
      return NextRandom(&s);
    };
    // A full replica's marks of the rows trained on (null elsewhere).
    uint8_t* const touched_in = replica.full() ? replica.touched(0) : nullptr;
    uint8_t* const touched_out = replica.full() ? replica.touched(1) : nullptr;
    auto train = [&](const int32_t* words, size_t n, float rate, uint64_t seed) {
      if (replaying) return;  // Trained before the pause.
      uint64_t kernel_rng = seed;
      TrainSentence(config, words, n, rate, &kernel_rng,
                    {replica.base(0), replica.base(1), replica.remap(), touched_in, touched_out,
                     in_state, out_state},
                    scratch_.data(), &stats);
    };
    auto train_batch = [&](const Batch& b) {
      train(b.words.data(), b.words.size(), b.alpha, b.seed);
    };
    // The rows a batch touches: its own words first (they need both tables),
    // then its negatives (only their output rows).
    auto plan = [&](Batch& b) {
      uint64_t plan_rng = b.seed;
      b.touched.clear();
      PlanSentence(config, b.words.data(), b.words.size(), &plan_rng, &b.touched);
      b.ids.assign(b.touched.begin(), b.touched.end());
      const std::span<const RowId> all(b.ids);
      const size_t n = b.words.size();
      b.groups[0] = {all.first(n)};
      b.groups[1] = {all.subspan(n), 1u << 1};
    };
    // Direct: trains at once. Replica: the batch waits while its rows are
    // prefetched; the one before it trains meanwhile.
    auto submit = [&](const int32_t* words, size_t n) -> Status {
      if (!replica.needs_rows()) {
        train(words, n, alpha, seed_of(batches++));
        return Status::OK();
      }
      Batch& next = batches_[batches % 2];
      next.words.assign(words, words + n);
      next.alpha = alpha;
      next.seed = seed_of(batches++);
      plan(next);
      if (replaying) {
        pending_ = true;  // Its rows are fetched when the replay ends.
        return Status::OK();
      }
      if (pending_) {
        Batch& now = batches_[batches % 2];
        DD_RETURN_IF_ERROR(replica.Require(now.groups));
        DD_RETURN_IF_ERROR(replica.Prefetch(next.groups));
        train_batch(now);
      } else {
        DD_RETURN_IF_ERROR(replica.Prefetch(next.groups));
      }
      pending_ = true;
      return Status::OK();
    };
    auto drain = [&]() -> Status {
      if (!pending_ || replaying) return Status::OK();
      pending_ = false;
      Batch& now = batches_[(batches + 1) % 2];
      DD_RETURN_IF_ERROR(replica.Require(now.groups));
      train_batch(now);
      return Status::OK();
    };
    auto flush = [&]() {
      if (sentence_.empty() || !status.ok()) {
        sentence_.clear();
        return;
      }
      const size_t step = replica.needs_rows() ? o.batch_words : sentence_.size();
      for (size_t b = 0; b < sentence_.size() && status.ok(); b += step) {
        status = submit(sentence_.data() + b, std::min(step, sentence_.size() - b));
      }
      sentence_.clear();
    };
    // Between sentences' words, never inside the kernel: the replica may
    // push, refresh or end a sync round here.
    auto checkpoint = [&]() {
      ++task_checkpoints;
      if (replaying) {
        // Counted, pushed and (on the replica path) rows fetched before the
        // pause, except at the point the pause was at.
        tokens = 0;
        since_checkpoint = 0;
        if (task_checkpoints < resume->checkpoints) return;
        replaying = false;
        stats = resume->stats;
        checkpoint_stats = resume->checkpoint_stats;
        if (pending_) batches_[(batches + 1) % 2].alpha = resume->pending_alpha;
      } else {
        shared_.tokens_read.fetch_add(tokens);
        tokens = 0;
        if (checkpoints_on_) {
          TaskPosition here;
          here.checkpoints = task_checkpoints;
          here.stats = stats;
          here.checkpoint_stats = checkpoint_stats;
          if (pending_) here.pending_alpha = batches_[(batches + 1) % 2].alpha;
          data.set_position(here.Encode());
        }
        if (status.ok()) status = replica.Advance(since_checkpoint, alpha);
      }
      // A refresh dropped the waiting batch's rows: fetch them again while
      // the next words are read.
      if (status.ok() && pending_ && !replica.prefetching()) {
        status = replica.Prefetch(batches_[(batches + 1) % 2].groups);
      }
      since_checkpoint = 0;
      alpha = rate();
      const uint64_t pairs = stats.pairs - checkpoint_stats.pairs;
      if (pairs > 0) {
        std::lock_guard<std::mutex> lock(shared_.mu);
        shared_.recent_loss = (stats.loss - checkpoint_stats.loss) / static_cast<double>(pairs);
      }
      checkpoint_stats = stats;
    };

    if (replica.full()) DD_RETURN_IF_ERROR(replica.RequireAll());
    Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(data.spec());
    if (!reader.ok()) return reader.status();
    Status read = (*reader)->ForEachChunk([&](std::string_view chunk) {
      if (!status.ok()) return;
      Tokenize(
          chunk,
          [&](std::string_view w) {
            ++tokens;
            const int32_t id = vocab.Find(w);
            if (id < 0) return;
            if (++since_checkpoint >= kCheckpointWords) checkpoint();
            if (!KeepWord(keep[id], NextRandom(&rng))) return;
            sentence_.push_back(id);
            if (sentence_.size() >= kMaxSentence) flush();
          },
          [&] { flush(); });
    });
    flush();
    if (status.ok()) status = drain();
    pending_ = false;
    checkpoint();
    DD_RETURN_IF_ERROR(read);
    if (replaying) {
      return Status::Corruption(data.spec().path + ": shorter than when the checkpoint was taken");
    }
    DD_RETURN_IF_ERROR(status);
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.epoch_loss[epoch] += stats.loss;
    shared_.epoch_pairs[epoch] += stats.pairs;
    return Status::OK();
  }

 private:
  Shared& shared_;
  std::vector<float> scratch_;
  std::vector<int32_t> sentence_;
  // Replica path: a batch of subsampled words waiting for its rows, with its
  // rate, its kernel seed and the rows it touches.
  struct Batch {
    std::vector<int32_t> words;
    float alpha = 0;
    uint64_t seed = 0;
    std::vector<int32_t> touched;
    std::vector<RowId> ids;
    Replica::RowGroup groups[2];
  };
  // The batch to train and the one after it, by batch number's parity.
  Batch batches_[2];
  bool pending_ = false;
  const bool checkpoints_on_;  // Record positions for checkpoint pauses.
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

Result<size_t> Trainer::InitFromVectors(const Vectors& vectors, Model* model) const {
  Table& in = model->table(kTableIn);
  if (vectors.dim() != in.dim()) {
    return Status::InvalidArgument("vectors of dimension " + std::to_string(vectors.dim()) +
                                   ", the model's is " + std::to_string(in.dim()) + " (--dim)");
  }
  size_t found = 0;
  for (size_t r = 0; r < vocab_.size() && r < in.rows(); ++r) {
    const int64_t at = vectors.Find(vocab_.word(static_cast<int32_t>(r)));
    if (at < 0) continue;
    std::memcpy(in.row(r), vectors.row(static_cast<size_t>(at)), in.dim() * sizeof(float));
    ++found;
  }
  return found;
}

LearningRate Trainer::Schedule() const {
  const TrainerOptions& o = options_;
  // The default end points were measured best at 1 epoch, and safe at 5
  // (docs/BENCHMARKS.md, "Learning-rate schedule"). Hierarchical softmax
  // wants a lower end (2.5 times lower: +2 points in skip-gram, +4 in CBOW
  // at 1 epoch; the same at 5).
  const bool cbow = o.model == Architecture::kCbow;
  const float per_epoch = (cbow ? 2.0f : 4.0f) * (o.hierarchical_softmax ? 2.5f : 1.0f);
  const float min_alpha =
      o.min_alpha > 0 ? o.min_alpha
                      : o.alpha / (per_epoch * static_cast<float>(std::max<size_t>(1, o.epochs)));
  return LearningRate{o.alpha, true, std::min(1.0f, min_alpha / o.alpha)};
}

Result<TrainStats> CombineRanks(Cluster& cluster, const TrainStats& stats) {
  if (cluster.ranks() == 1) return stats;
  const size_t epochs = stats.epoch_pairs.size();
  std::ostringstream mine;
  mine.precision(17);
  mine << stats.words << ' ' << epochs;
  for (size_t e = 0; e < epochs; ++e)
    mine << ' ' << stats.epoch_pairs[e] << ' ' << stats.epoch_loss_sum[e];
  Result<std::vector<std::string>> all = cluster.AllGather(mine.str());
  if (!all.ok()) return all.status();
  TrainStats total = stats;
  total.words = 0;
  total.epoch_pairs.assign(epochs, 0);
  total.epoch_loss_sum.assign(epochs, 0.0);
  for (size_t r = 0; r < all->size(); ++r) {
    std::istringstream in((*all)[r]);
    uint64_t words = 0;
    size_t their_epochs = 0;
    in >> words >> their_epochs;
    if (!in || their_epochs != epochs)
      return Status::Internal("rank " + std::to_string(r) +
                              ": its training counts do not match rank " +
                              std::to_string(cluster.rank()) + "'s");
    total.words += words;
    for (size_t e = 0; e < epochs; ++e) {
      uint64_t pairs = 0;
      double loss_sum = 0;
      in >> pairs >> loss_sum;
      total.epoch_pairs[e] += pairs;
      total.epoch_loss_sum[e] += loss_sum;
    }
    if (!in)
      return Status::Internal("rank " + std::to_string(r) + ": its training counts are truncated");
  }
  total.epoch_loss.assign(epochs, 0.0);
  for (size_t e = 0; e < epochs; ++e)
    if (total.epoch_pairs[e] > 0)
      total.epoch_loss[e] = total.epoch_loss_sum[e] / static_cast<double>(total.epoch_pairs[e]);
  if (epochs > 0) {
    total.loss = total.epoch_loss.back();
    total.first_epoch_loss = total.epoch_loss.front();
  }
  return total;
}

Result<TrainStats> Trainer::Train(const std::vector<PartitionSpec>& partitions, ParamStore& store,
                                  const std::function<void(const TrainProgress&)>& on_progress) {
  DeepDist dd(store, {.threads = options_.threads,
                      .mode = options_.sync ? Mode::kSync : Mode::kAsync,
                      .epochs = options_.epochs,
                      .snapshot_every = options_.snapshot_every,
                      .snapshot_tables = {kTableIn},
                      .on_snapshot = options_.on_snapshot,
                      .interrupt = options_.interrupt,
                      .checkpoint_every = options_.checkpoint_every,
                      .on_checkpoint = options_.on_checkpoint,
                      .resume = options_.resume});
  return Run(partitions, dd, nullptr, on_progress);
}

Result<TrainStats> Trainer::Train(const std::vector<PartitionSpec>& partitions, DeepDist& dd,
                                  const Descent& descent,
                                  const std::function<void(const TrainProgress&)>& on_progress) {
  return Run(partitions, dd, &descent, on_progress);
}

Result<TrainStats> Trainer::Run(const std::vector<PartitionSpec>& partitions, DeepDist& dd,
                                const Descent* descent,
                                const std::function<void(const TrainProgress&)>& on_progress) {
  const TrainerOptions& o = options_;
  DD_CHECK(o.window > 0 && o.negative >= 0 && o.epochs > 0 && o.threads > 0);
  if (dd.options().epochs != o.epochs) {
    return Status::InvalidArgument("epochs: the DeepDist scope and the trainer disagree");
  }
  const size_t dim = o.dim;
  const size_t stride = (dim + Table::kRowAlign - 1) / Table::kRowAlign * Table::kRowAlign;

  const NegativeTable negatives(vocab_.counts());
  const std::vector<uint32_t> keep =
      SubsampleThresholds(vocab_.counts(), o.sample, vocab_.train_words());
  Shared shared;
  shared.config.cbow = o.model == Architecture::kCbow;
  shared.config.window = o.window;
  shared.config.negative = o.negative;
  shared.config.stride = stride;
  shared.config.negatives = &negatives;
  shared.config.shared_negatives = o.shared_negatives;
  std::optional<HuffmanTree> tree;
  if (o.hierarchical_softmax) {
    tree.emplace(vocab_.counts());
    shared.config.tree = &*tree;
  }
  shared.vocab = &vocab_;
  shared.keep = &keep;
  shared.schedule = Schedule();
  shared.options = &o;
  shared.epoch_loss.assign(o.epochs, 0.0);
  shared.epoch_pairs.assign(o.epochs, 0);

  WorkerOptions wopts;
  wopts.planned_units = o.epochs * vocab_.train_words() + 1;
  wopts.tables = {kTableIn, kTableOut};
  wopts.replica.push_every = o.push_every;
  wopts.replica.fetch_every = o.fetch_every;
  wopts.replica.hot_rows = o.hot_rows;
  wopts.replica.hot_every = o.hot_every;
  wopts.replica.allow_direct = !o.force_store_path;
  wopts.replica.direct_adagrad = true;  // The kernel runs AdaGrad in place.
  wopts.replica.full = o.full_replica;
  const Clock::time_point start = Clock::now();
  uint64_t resumed_words = 0;  // Set by restore_state before any tick.
  wopts.on_tick = [&] {
    if (!on_progress || shared.store == nullptr) return;
    TrainProgress p;
    p.fraction = shared.store->progress_fraction();
    p.words = shared.tokens_read.load();
    p.resumed_words = resumed_words;
    p.seconds = SecondsSince(start);
    p.learning_rate = shared.schedule.At(p.fraction);
    p.activity = dd.activity();
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      p.loss = shared.recent_loss;
    }
    on_progress(p);
  };
  // The counters a checkpoint keeps: words read, and per epoch the loss
  // and pairs of the tasks done (doubles by their bits).
  wopts.save_state = [&] {
    std::string out;
    auto put = [&out](const void* v) { out.append(static_cast<const char*>(v), 8); };
    const uint64_t words = shared.tokens_read.load();
    put(&words);
    std::lock_guard<std::mutex> lock(shared.mu);
    for (size_t e = 0; e < o.epochs; ++e) {
      put(&shared.epoch_loss[e]);
      put(&shared.epoch_pairs[e]);
    }
    return out;
  };
  wopts.restore_state = [&](std::string_view state) -> Status {
    if (state.size() != 8 * (1 + 2 * o.epochs)) {
      return Status::Corruption("the trainer's saved counters are damaged");
    }
    const char* p = state.data();
    auto get = [&p](void* v) {
      std::memcpy(v, p, 8);
      p += 8;
    };
    // Added: a rank may take over the counters of several saved ranks.
    uint64_t words = 0;
    get(&words);
    shared.tokens_read.fetch_add(words);
    resumed_words += words;
    for (size_t e = 0; e < o.epochs; ++e) {
      double loss = 0;
      uint64_t pairs = 0;
      get(&loss);
      get(&pairs);
      shared.epoch_loss[e] += loss;
      shared.epoch_pairs[e] += pairs;
    }
    return Status::OK();
  };
  auto factory = [&](size_t) -> std::unique_ptr<Worker> {
    return std::make_unique<Word2VecWorker>(shared, dd.options().checkpoint_every > 0);
  };
  Status status;
  if (descent == nullptr) {
    shared.store = dd.store();
    DD_CHECK(shared.store != nullptr && shared.store->num_tables() >= 2 &&
             shared.store->rows(kTableIn) == vocab_.size() && shared.store->dim(kTableIn) == dim);
    status = dd.train(partitions, factory, wopts);
  } else {
    // The scope makes its store at this train(); the workers start after.
    wopts.on_start = [&](ParamStore& store) { shared.store = &store; };
    status = dd.train(partitions, factory, wopts, *descent);
  }
  if (!status.ok()) return status;

  TrainStats stats;
  stats.words = shared.tokens_read.load();
  stats.resumed_words = resumed_words;
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
