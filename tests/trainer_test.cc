// The word2vec Trainer on a small synthetic corpus of two topics: determinism,
// the store path against the Hogwild path, AdaGrad, what it learns, and the
// statistics it reports.
#include "deepdist/word2vec/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/store.h"
#include "deepdist/word2vec/vectors.h"
#include "deepdist/word2vec/vocabulary.h"
#include "tests/test_support.h"

namespace deepdist::word2vec {
namespace {

const std::vector<std::string> kAnimals = {"cat",   "dog",  "mouse", "horse", "cow",
                                           "sheep", "goat", "pig",   "duck",  "lion"};
const std::vector<std::string> kVehicles = {"car",   "bus",  "train", "plane", "boat",
                                            "truck", "bike", "tram",  "ship",  "taxi"};

// A ParamStore that forwards to a LocalStore and counts the rows pulled and
// pushed, so a test can tell which path training took.
class CountingStore : public ParamStore {
 public:
  explicit CountingStore(LocalStore* inner) : inner_(inner) {}
  size_t num_tables() const override { return inner_->num_tables(); }
  size_t rows(size_t table) const override { return inner_->rows(table); }
  size_t dim(size_t table) const override { return inner_->dim(table); }
  const Descent& descent() const override { return inner_->descent(); }
  Ticket Pull(std::span<const RowBlock> blocks) override {
    for (const RowBlock& b : blocks) pulled += b.ids.size();
    ++pull_calls;
    return inner_->Pull(blocks);
  }
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) override {
    for (const ConstRowBlock& b : blocks) pushed += b.ids.size();
    return inner_->Push(blocks, options);
  }
  uint32_t NewClient() override { return inner_->NewClient(); }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override {
    const Ticket ticket = inner_->PullChanged(client, ranges);  // Settled at once.
    for (const ChangedRows& r : ranges) pulled += r.ids.size();
    ++pull_calls;
    return ticket;
  }
  Status Wait(Ticket ticket) override { return inner_->Wait(ticket); }
  Result<Model> Snapshot() override { return inner_->Snapshot(); }
  void SetPlan(uint64_t planned_units) override { inner_->SetPlan(planned_units); }
  void AddProgress(uint64_t units) override { inner_->AddProgress(units); }
  uint64_t progress() const override { return inner_->progress(); }
  uint64_t planned() const override { return inner_->planned(); }
  std::unique_ptr<TaskSource> NewTasks(uint64_t partitions, uint64_t epochs) override {
    return inner_->NewTasks(partitions, epochs);
  }
  std::unique_ptr<Rounds> NewRounds(size_t local_workers) override {
    return inner_->NewRounds(local_workers);
  }
  Status Barrier() override { return inner_->Barrier(); }
  Table* DirectTable(size_t table) override { return inner_->DirectTable(table); }
  Table* DirectAdaGradTable(size_t table) override { return inner_->DirectAdaGradTable(table); }
  Table* DirectState(size_t table) override { return inner_->DirectState(table); }

  std::atomic<uint64_t> pulled{0};
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> pull_calls{0};

 private:
  LocalStore* inner_;
};

double Cosine(const Table& t, size_t a, size_t b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t k = 0; k < t.dim(); ++k) {
    ab += static_cast<double>(t.row(a)[k]) * t.row(b)[k];
    aa += static_cast<double>(t.row(a)[k]) * t.row(a)[k];
    bb += static_cast<double>(t.row(b)[k]) * t.row(b)[k];
  }
  return ab / std::sqrt(aa * bb);
}

bool SameTable(const Table& a, const Table& b) {
  return a.rows() == b.rows() && a.stride() == b.stride() &&
         std::memcmp(a.data(), b.data(), a.rows() * a.stride() * sizeof(float)) == 0;
}

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("deepdist_trainer_test_");
    ASSERT_TRUE(dir_->ok());
    // 5000 lines of 10 words, animals and vehicles alternating by line, and
    // 10 words that occur once (below min_count).
    std::mt19937_64 rng(2718);
    std::string text;
    tokens_ = 0;
    for (int line = 0; line < 5000; ++line) {
      const std::vector<std::string>& topic = line % 2 == 0 ? kAnimals : kVehicles;
      for (int k = 0; k < 10; ++k) {
        if (k > 0) text += ' ';
        text += topic[rng() % topic.size()];
        ++tokens_;
      }
      if (line % 500 == 499) {
        text += " rare" + std::to_string(line);
        ++tokens_;
      }
      text += '\n';
    }
    *corpus_path() = (dir_->path() / "corpus.txt").string();
    testing_support::WriteFile(*corpus_path(), text);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string* corpus_path() {
    static std::string path;
    return &path;
  }

  void SetUp() override {
    PartitionOptions popts;
    popts.target_partitions = 3;
    Result<std::vector<PartitionSpec>> parts = ListPartitions({*corpus_path()}, popts);
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    partitions_ = *parts;
    ASSERT_GE(partitions_.size(), 2u);
    VocabularyOptions vopts;
    vopts.min_count = 5;
    Result<Vocabulary> v = Vocabulary::Count(partitions_, vopts);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    vocab_ = std::move(v).value();
    ASSERT_EQ(vocab_.size(), 20u);
    ASSERT_EQ(vocab_.corpus_words(), tokens_);
  }

  static TrainerOptions Options() {
    TrainerOptions o;
    o.dim = 16;
    o.window = 3;
    o.negative = 5;
    o.sample = 0;
    o.epochs = 3;
    o.threads = 1;
    o.alpha = 0.025f;
    o.seed = 7;
    return o;
  }

  struct Run {
    TrainStats stats;
    Model model;
    uint64_t pulled = 0, pushed = 0;
  };

  Run Train(const TrainerOptions& o, std::unique_ptr<Descent> descent) {
    Trainer trainer(vocab_, o);
    LocalStore local(trainer.NewModel(), std::move(descent));
    CountingStore store(&local);
    Result<TrainStats> stats = trainer.Train(partitions_, store);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    Run run;
    if (stats.ok()) run.stats = *stats;
    run.model = local.model();
    run.pulled = store.pulled;
    run.pushed = store.pushed;
    return run;
  }

  static std::unique_ptr<Descent> MakeSgd(float alpha = 0.025f) {
    return std::make_unique<deepdist::Sgd>(LearningRate{alpha, true, 1e-4f});
  }

  // Mean cosine of "in" rows within a topic and across topics.
  void TopicCosines(const Model& model, double* within, double* across) {
    const Table& in = model.table(0);
    double w = 0, a = 0;
    size_t nw = 0, na = 0;
    for (const auto* t1 : {&kAnimals, &kVehicles}) {
      for (const auto* t2 : {&kAnimals, &kVehicles}) {
        for (const std::string& x : *t1) {
          for (const std::string& y : *t2) {
            if (x == y) continue;
            const double c = Cosine(in, static_cast<size_t>(vocab_.Find(x)),
                                    static_cast<size_t>(vocab_.Find(y)));
            if (t1 == t2) {
              w += c;
              ++nw;
            } else {
              a += c;
              ++na;
            }
          }
        }
      }
    }
    *within = w / static_cast<double>(nw);
    *across = a / static_cast<double>(na);
  }

  static testing_support::TempDir* dir_;
  static uint64_t tokens_;
  std::vector<PartitionSpec> partitions_;
  Vocabulary vocab_;
};

testing_support::TempDir* TrainerTest::dir_ = nullptr;
uint64_t TrainerTest::tokens_ = 0;

// The rate ends at alpha / (4 * epochs) for skip-gram and alpha / (2 *
// epochs) for CBOW, unless min_alpha says otherwise.
TEST_F(TrainerTest, ScheduleEndPointDependsOnModelAndEpochs) {
  TrainerOptions o = Options();
  o.model = Architecture::kSkipGram;
  o.alpha = 0.025f;
  o.epochs = 5;
  const LearningRate five = Trainer(vocab_, o).Schedule();
  EXPECT_TRUE(five.linear_decay);
  EXPECT_FLOAT_EQ(five.At(0.0), 0.025f);
  EXPECT_FLOAT_EQ(five.At(1.0), 0.00125f);
  EXPECT_FLOAT_EQ(five.At(0.5), 0.013125f);  // Halfway from 0.025 to 0.00125.
  o.epochs = 1;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.00625f);
  o.model = Architecture::kCbow;
  o.alpha = 0.05f;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.025f);
  o.epochs = 5;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.005f);
  o.min_alpha = 0.001f;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.001f);
  // Hierarchical softmax ends 2.5 times lower.
  o.min_alpha = 0.0f;
  o.hierarchical_softmax = true;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.002f);
  o.model = Architecture::kSkipGram;
  o.alpha = 0.025f;
  o.epochs = 1;
  EXPECT_FLOAT_EQ(Trainer(vocab_, o).Schedule().At(1.0), 0.0025f);
}

TEST_F(TrainerTest, NewModelShapeAndInitialisation) {
  const TrainerOptions o = Options();
  Trainer trainer(vocab_, o);
  const Model model = trainer.NewModel();
  ASSERT_EQ(model.num_tables(), 2u);
  const Table& in = model.table(0);
  const Table& out = model.table(1);
  EXPECT_EQ(in.name(), "in");
  EXPECT_EQ(out.name(), "out");
  EXPECT_EQ(in.rows(), vocab_.size());
  EXPECT_EQ(in.dim(), o.dim);
  EXPECT_EQ(out.rows(), vocab_.size());
  // Uniform in [-1/dim, 1/dim), as gensim initialises: the values fill the
  // whole range, not only word2vec.c's half of it.
  float largest = 0.0f;
  for (size_t r = 0; r < in.rows(); ++r) {
    for (size_t k = 0; k < o.dim; ++k) {
      EXPECT_LE(std::fabs(in.row(r)[k]), 1.0f / static_cast<float>(o.dim));
      largest = std::max(largest, std::fabs(in.row(r)[k]));
      EXPECT_EQ(out.row(r)[k], 0.0f);
    }
  }
  EXPECT_GT(largest, 0.9f / static_cast<float>(o.dim));
  // The same seed gives the same model; another seed another.
  EXPECT_TRUE(SameTable(trainer.NewModel().table(0), in));
  TrainerOptions other = o;
  other.seed = 8;
  EXPECT_FALSE(SameTable(Trainer(vocab_, other).NewModel().table(0), in));
}

// --init-vectors: the words found in the file start from their vectors, the
// others keep NewModel's random start, the output table stays zero, and a
// file of another dimension is refused.
TEST_F(TrainerTest, InitFromVectorsStartsTheWordsFoundFromTheirVectors) {
  const TrainerOptions o = Options();
  Trainer trainer(vocab_, o);
  const size_t dim = o.dim;
  // "cat" and "car" with vectors of their own, and a word not in the
  // vocabulary, which is left out.
  std::string text = "3 " + std::to_string(dim) + "\n";
  for (const auto& [word, value] : std::vector<std::pair<std::string, float>>{
           {"cat", 0.5f}, {"nosuchword", 0.25f}, {"car", -0.75f}}) {
    text += word;
    for (size_t k = 0; k < dim; ++k)
      text += " " + std::to_string(value + 0.125f * static_cast<float>(k % 3));
    text += "\n";
  }
  const auto path = dir_->path() / "init.txt";
  testing_support::WriteFile(path, text);
  Result<Vectors> vectors = Vectors::Load(path.string());
  ASSERT_TRUE(vectors.ok()) << vectors.status().message();

  const Model fresh = trainer.NewModel();
  Model model = trainer.NewModel();
  Result<size_t> found = trainer.InitFromVectors(*vectors, &model);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(*found, 2u);
  const size_t cat = static_cast<size_t>(vocab_.Find("cat"));
  const size_t car = static_cast<size_t>(vocab_.Find("car"));
  for (size_t r = 0; r < vocab_.size(); ++r) {
    for (size_t k = 0; k < dim; ++k) {
      const float base = r == cat ? 0.5f : r == car ? -0.75f : 0.0f;
      const float want = r == cat || r == car ? base + 0.125f * static_cast<float>(k % 3)
                                              : fresh.table(0).row(r)[k];
      EXPECT_EQ(model.table(0).row(r)[k], want) << "row " << r;
      EXPECT_EQ(model.table(1).row(r)[k], 0.0f);
    }
  }

  TrainerOptions wider = o;
  wider.dim = dim + 1;
  Trainer other(vocab_, wider);
  Model wide = other.NewModel();
  Result<size_t> refused = other.InitFromVectors(*vectors, &wide);
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(TrainerTest, OneThreadSameSeedIsBitIdentical) {
  const TrainerOptions o = Options();
  const Run a = Train(o, MakeSgd());
  const Run b = Train(o, MakeSgd());
  const Model initial = Trainer(vocab_, o).NewModel();
  EXPECT_FALSE(SameTable(a.model.table(0), initial.table(0))) << "training changed nothing";
  EXPECT_TRUE(SameTable(a.model.table(0), b.model.table(0)));
  EXPECT_TRUE(SameTable(a.model.table(1), b.model.table(1)));
  EXPECT_EQ(a.stats.loss, b.stats.loss);
  // The Hogwild path: no rows go through Pull/Push.
  EXPECT_EQ(a.pulled, 0u);
  EXPECT_EQ(a.pushed, 0u);

  // The store path is deterministic too.
  TrainerOptions s = o;
  s.force_store_path = true;
  const Run c = Train(s, MakeSgd());
  const Run d = Train(s, MakeSgd());
  EXPECT_TRUE(SameTable(c.model.table(0), d.model.table(0)));
  EXPECT_TRUE(SameTable(c.model.table(1), d.model.table(1)));

  // A different seed trains differently.
  TrainerOptions other = o;
  other.seed = 8;
  const Run e = Train(other, MakeSgd());
  EXPECT_FALSE(SameTable(a.model.table(0), e.model.table(0)));
}

// The largest difference between two tables' values, relative to the
// largest magnitude in `a`.
double MaxRelativeDifference(const Table& a, const Table& b) {
  double diff = 0, scale = 0;
  for (size_t r = 0; r < a.rows(); ++r) {
    for (size_t k = 0; k < a.dim(); ++k) {
      diff = std::max(diff, std::fabs(static_cast<double>(a.row(r)[k]) - b.row(r)[k]));
      scale = std::max(scale, std::fabs(static_cast<double>(a.row(r)[k])));
    }
  }
  return scale > 0 ? diff / scale : diff;
}

// The most that `got` differs from `want` in units of one rounding of the
// change from `initial` (the float epsilon times |initial| + |want|): at
// most 1 when `got` is initial + (want - initial) computed in floats.
double MaxRoundings(const Table& want, const Table& got, const Table& initial) {
  double most = 0;
  for (size_t r = 0; r < want.rows(); ++r) {
    for (size_t k = 0; k < want.dim(); ++k) {
      const double w = want.row(r)[k], g = got.row(r)[k], i = initial.row(r)[k];
      const double unit = std::numeric_limits<float>::epsilon() * (std::fabs(i) + std::fabs(w));
      if (w != g) most = std::max(most, std::fabs(w - g) / unit);
    }
  }
  return most;
}

// Skip-gram and CBOW, each with negative sampling and hierarchical softmax.
std::vector<std::pair<Architecture, bool>> ModelsAndLosses() {
  return {{Architecture::kSkipGram, false},
          {Architecture::kCbow, false},
          {Architecture::kSkipGram, true},
          {Architecture::kCbow, true}};
}

TEST_F(TrainerTest, OneWorkerOnTheReplicaPathGivesTheHogwildVectors) {
  // With one worker nobody else changes the master, so training on a
  // replica must give the Hogwild path's vectors: the same kernel at the
  // same rates on the same values. The one difference is that the master
  // receives old + (new - old) instead of new, which may round to the next
  // float. Pushing only at the end leaves exactly that one rounding.
  for (const auto& [arch, hs] : ModelsAndLosses()) {
    SCOPED_TRACE(std::string(arch == Architecture::kCbow ? "cbow" : "skip-gram") +
                 (hs ? " hs" : " ns"));
    TrainerOptions o = Options();
    o.model = arch;
    o.hierarchical_softmax = hs;
    const Run hogwild = Train(o, MakeSgd());
    EXPECT_EQ(hogwild.pushed, 0u);
    TrainerOptions r = o;
    r.force_store_path = true;
    r.push_every = r.fetch_every = uint64_t{1} << 40;
    const Run once = Train(r, MakeSgd());
    EXPECT_GT(once.pushed, 0u);
    const Model initial = Trainer(vocab_, o).NewModel();
    EXPECT_LE(MaxRoundings(hogwild.model.table(0), once.model.table(0), initial.table(0)), 1.0);
    EXPECT_LE(MaxRoundings(hogwild.model.table(1), once.model.table(1), initial.table(1)), 1.0);
    EXPECT_EQ(once.stats.loss, hogwild.stats.loss);
    EXPECT_EQ(once.stats.epoch_loss, hogwild.stats.epoch_loss);

    // Pushing and pulling often: those roundings, re-read and trained on,
    // grow a little, but stay far below what a rate mismatch would make.
    for (const uint64_t interval : {uint64_t{0}, uint64_t{700}}) {
      SCOPED_TRACE("interval " + std::to_string(interval));
      r.push_every = interval;
      r.fetch_every = interval * 2;
      const Run often = Train(r, MakeSgd());
      EXPECT_GT(often.pulled, once.pulled);
      EXPECT_LT(MaxRelativeDifference(hogwild.model.table(0), often.model.table(0)), 2e-3);
      EXPECT_LT(MaxRelativeDifference(hogwild.model.table(1), often.model.table(1)), 2e-3);
      EXPECT_NEAR(often.stats.loss, hogwild.stats.loss, 1e-5 * hogwild.stats.loss);
    }
  }
  // The tolerance above is tight enough to catch a rate that is off by 1%.
  TrainerOptions o = Options();
  const Run a = Train(o, MakeSgd());
  o.alpha *= 1.01f;
  const Run b = Train(o, MakeSgd(o.alpha));
  EXPECT_GT(MaxRelativeDifference(a.model.table(0), b.model.table(0)), 2e-3);
}

TEST_F(TrainerTest, OneWorkerOnAFullReplicaTrainsTheHogwildValues) {
  // A full replica with one worker pulls every row once; afterwards no one
  // else changes a row, so no sync pulls anything back and the replica
  // trains exactly the Hogwild path's values (the same loss, bit for bit)
  // however often it pushes. The master receives the changes in steps, each
  // one rounding of old + (new - old).
  for (const auto& [arch, hs] : ModelsAndLosses()) {
    SCOPED_TRACE(std::string(arch == Architecture::kCbow ? "cbow" : "skip-gram") +
                 (hs ? " hs" : " ns"));
    TrainerOptions o = Options();
    o.model = arch;
    o.hierarchical_softmax = hs;
    const Run hogwild = Train(o, MakeSgd());
    TrainerOptions r = o;
    r.force_store_path = true;
    r.full_replica = true;
    const Model initial = Trainer(vocab_, o).NewModel();
    for (const uint64_t interval : {uint64_t{1} << 40, uint64_t{700}, uint64_t{0}}) {
      SCOPED_TRACE("interval " + std::to_string(interval));
      r.push_every = interval;
      r.fetch_every = interval * 2;
      const Run full = Train(r, MakeSgd());
      EXPECT_EQ(full.pulled, 2 * vocab_.size());  // The initial load alone.
      EXPECT_GT(full.pushed, 0u);
      EXPECT_EQ(full.stats.loss, hogwild.stats.loss);
      EXPECT_EQ(full.stats.epoch_loss, hogwild.stats.epoch_loss);
      const double roundings = interval > 1000 ? 1.0 : 64.0;
      EXPECT_LE(MaxRoundings(hogwild.model.table(0), full.model.table(0), initial.table(0)),
                roundings);
      // Hierarchical softmax's nodes near the root are in every push and
      // swing far wider on the way than where they end (they start at 0):
      // each push's rounding, relative to the value then, counts for more
      // against the final value (about 250 of them, measured).
      const double node_roundings = hs && interval <= 1000 ? 1024.0 : roundings;
      EXPECT_LE(MaxRoundings(hogwild.model.table(1), full.model.table(1), initial.table(1)),
                node_roundings);
    }
  }
}

TEST_F(TrainerTest, PushAndFetchIntervalsSetHowOftenRowsTravel) {
  // Intervals of 0 push and refresh at every progress checkpoint (at least
  // once per partition); intervals longer than the run push once, at the
  // end, and pull each row once.
  TrainerOptions o = Options();
  o.force_store_path = true;
  const Run often = Train(o, MakeSgd());
  o.push_every = o.fetch_every = uint64_t{1} << 40;
  const Run once = Train(o, MakeSgd());
  EXPECT_GT(once.pushed, 0u);
  EXPECT_LE(once.pulled, 2 * vocab_.size());  // Each row of both tables once at most.
  EXPECT_LE(once.pushed, 2 * vocab_.size());
  EXPECT_GE(often.pulled, 2 * once.pulled) << "a refresh per epoch at least";
  EXPECT_GE(often.pushed, 2 * once.pushed);
  // Pushing without refreshing: rows travel out often, in once.
  o.push_every = 1;
  const Run push_only = Train(o, MakeSgd());
  EXPECT_EQ(push_only.pulled, once.pulled);
  EXPECT_GE(push_only.pushed, 2 * once.pushed);
}

TEST_F(TrainerTest, StorePathWithSmallBatches) {
  // Batches shorter than a sentence still train through Pull/Push.
  TrainerOptions o = Options();
  const Run hogwild = Train(o, MakeSgd());
  o.force_store_path = true;
  o.batch_words = 3;
  const Run store = Train(o, MakeSgd());
  EXPECT_GT(store.pushed, 0u);
  EXPECT_NEAR(store.stats.loss, hogwild.stats.loss, 0.1 * hogwild.stats.loss);
}

// AdaGrad trains in place embedded (Hogwild AdaGrad: no pulls or pushes) and
// through the store on replicas (Downpour's AdaGrad on pushed changes); both
// learn the topics.
TEST_F(TrainerTest, AdaGradTrainsInPlaceAndThroughTheStore) {
  for (const bool store_path : {false, true}) {
    SCOPED_TRACE(store_path ? "store path" : "in place");
    TrainerOptions o = Options();
    o.epochs = 4;
    o.force_store_path = store_path;
    std::unique_ptr<Descent> adagrad = MakeDescent("adagrad", LearningRate{0.025f, false, 1e-4f});
    ASSERT_NE(adagrad, nullptr);
    const Run run = Train(o, std::move(adagrad));
    if (store_path) {
      EXPECT_GT(run.pulled, 0u);
      EXPECT_GT(run.pushed, 0u);
    } else {
      EXPECT_EQ(run.pulled, 0u);
      EXPECT_EQ(run.pushed, 0u);
    }
    ASSERT_EQ(run.stats.epoch_loss.size(), 4u);
    for (double l : run.stats.epoch_loss) {
      EXPECT_TRUE(std::isfinite(l));
      EXPECT_GT(l, 0.0);
    }
    EXPECT_LT(run.stats.epoch_loss.back(), run.stats.epoch_loss.front())
        << "first " << run.stats.epoch_loss.front() << ", last " << run.stats.epoch_loss.back();
    const Table& in = run.model.table(0);
    for (size_t r = 0; r < in.rows(); ++r) {
      for (size_t k = 0; k < in.dim(); ++k) ASSERT_TRUE(std::isfinite(in.row(r)[k]));
    }
    double within = 0, across = 0;
    TopicCosines(run.model, &within, &across);
    EXPECT_GT(within, across) << "within " << within << ", across " << across;
  }
}

TEST_F(TrainerTest, SyncModeTrainsThroughTheStoreInRounds) {
  // Sync rounds go through Pull/Push even where Hogwild is allowed, and
  // workers that run out of partitions early drop out without a deadlock.
  for (const size_t threads : {2u, 5u}) {
    TrainerOptions o = Options();
    o.threads = threads;
    o.sync = true;
    o.epochs = 6;
    const Run run = Train(o, MakeSgd(0.05f));
    EXPECT_GT(run.pulled, 0u);
    EXPECT_GT(run.pushed, 0u);
    EXPECT_EQ(run.stats.words, o.epochs * tokens_);
    double within = 0, across = 0;
    TopicCosines(run.model, &within, &across);
    EXPECT_GT(within, across + 0.1)
        << threads << " threads: within " << within << ", across " << across;
  }
}

TEST_F(TrainerTest, WordsOfOneTopicEndUpCloser) {
  for (const auto& [arch, hs] : ModelsAndLosses()) {
    SCOPED_TRACE(std::string(arch == Architecture::kCbow ? "cbow" : "skip-gram") +
                 (hs ? " hs" : " ns"));
    TrainerOptions o = Options();
    o.model = arch;
    o.hierarchical_softmax = hs;
    o.threads = 2;
    const Run run = Train(o, MakeSgd());
    double within = 0, across = 0;
    TopicCosines(run.model, &within, &across);
    EXPECT_GT(within, across + 0.2) << "within " << within << ", across " << across;
    // Every word's nearest other word is of its own topic.
    const Table& in = run.model.table(0);
    for (const auto* topic : {&kAnimals, &kVehicles}) {
      for (const std::string& w : *topic) {
        const size_t row = static_cast<size_t>(vocab_.Find(w));
        double best = -2;
        std::string nearest;
        for (size_t r = 0; r < vocab_.size(); ++r) {
          if (r == row) continue;
          const double c = Cosine(in, row, r);
          if (c > best) {
            best = c;
            nearest = vocab_.word(static_cast<int32_t>(r));
          }
        }
        EXPECT_NE(std::find(topic->begin(), topic->end(), nearest), topic->end())
            << w << "'s nearest word is " << nearest;
      }
    }
  }
}

TEST_F(TrainerTest, StatsCountEveryTokenOfEveryEpoch) {
  for (const size_t threads : {1u, 2u}) {
    for (const size_t epochs : {1u, 3u}) {
      TrainerOptions o = Options();
      o.threads = threads;
      o.epochs = epochs;
      o.sample = 1e-3;
      const Run run = Train(o, MakeSgd());
      EXPECT_EQ(run.stats.words, epochs * tokens_)
          << threads << " threads, " << epochs << " epochs";
      ASSERT_EQ(run.stats.epoch_loss.size(), epochs);
      EXPECT_EQ(run.stats.loss, run.stats.epoch_loss.back());
      EXPECT_EQ(run.stats.first_epoch_loss, run.stats.epoch_loss.front());
      EXPECT_GE(run.stats.seconds, 0.0);
    }
  }
}

TEST_F(TrainerTest, MissingPartitionFileIsReported) {
  std::vector<PartitionSpec> parts = partitions_;
  parts.back().path = (dir_->path() / "gone.txt").string();
  Trainer trainer(vocab_, Options());
  LocalStore store(trainer.NewModel(), MakeSgd());
  Result<TrainStats> stats = trainer.Train(parts, store);
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("gone.txt"), std::string::npos)
      << stats.status().message();
}

// A line is a sentence: with one word per line no window has a context
// word, so nothing trains, however wide the window; the same words on one
// line do train.
TEST_F(TrainerTest, WindowsNeverCrossANewline) {
  auto train_file = [&](const std::string& name, const std::string& text) {
    const std::string path = (dir_->path() / name).string();
    testing_support::WriteFile(path, text);
    PartitionOptions popts;
    popts.target_partitions = 3;
    Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, popts);
    EXPECT_TRUE(parts.ok());
    VocabularyOptions vopts;
    vopts.min_count = 1;
    Result<Vocabulary> vocab = Vocabulary::Count(*parts, vopts);
    EXPECT_TRUE(vocab.ok());
    TrainerOptions o = Options();
    o.window = 10;
    o.threads = 2;
    Trainer trainer(*vocab, o);
    LocalStore store(trainer.NewModel(), MakeSgd());
    const Model before = trainer.NewModel();
    EXPECT_TRUE(trainer.Train(*parts, store).ok());
    return std::memcmp(before.table(0).data(), store.model().table(0).data(),
                       before.table(0).rows() * before.table(0).stride() * sizeof(float)) != 0;
  };
  std::string lines, one_line;
  for (int i = 0; i < 2000; ++i) {
    const std::string w = "w" + std::to_string(i % 37);
    lines += w + "\n";
    one_line += w + " ";
  }
  EXPECT_FALSE(train_file("one_word_lines.txt", lines)) << "a window crossed a newline";
  EXPECT_TRUE(train_file("one_line.txt", one_line + "\n")) << "the control trained nothing";
}

// Checkpoints: a run that pauses for a checkpoint every ~0.1 ms trains what
// an uninterrupted one does, and a run resumed from any of its checkpoints
// (mid-task ones included) ends bit-identical to it, on one thread, on the
// Hogwild path with SGD and with AdaGrad in place; its counters (words,
// per-epoch losses) come out the same too.
TEST_F(TrainerTest, ResumingFromAnyCheckpointGivesTheUninterruptedVectors) {
  for (const bool adagrad : {false, true}) {
    SCOPED_TRACE(adagrad ? "adagrad" : "sgd");
    auto rule = [&]() -> std::unique_ptr<Descent> {
      if (adagrad) return std::make_unique<AdaGrad>(LearningRate{0.1f, false});
      return MakeSgd();
    };
    const TrainerOptions o = Options();
    const Run plain = Train(o, rule());

    std::vector<Checkpoint> saved;
    TrainerOptions c = o;
    Trainer trainer(vocab_, c);
    LocalStore local(trainer.NewModel(), rule());
    c.checkpoint_every = 1e-4;
    c.on_checkpoint = [&](Checkpoint& ck) -> Status {
      saved.push_back(ck);
      return Status::OK();
    };
    Result<TrainStats> stats = Trainer(vocab_, c).Train(partitions_, local);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_TRUE(SameTable(local.model().table(0), plain.model.table(0)));
    EXPECT_TRUE(SameTable(local.model().table(1), plain.model.table(1)));
    ASSERT_GE(saved.size(), 3u);

    size_t mid_task = 0, resumed_after_words = 0;
    for (size_t i = 0; i < saved.size(); ++i) {
      SCOPED_TRACE("checkpoint " + std::to_string(i));
      Result<TrainState> state = TrainState::Parse(*saved[i].Get("train"), "test");
      ASSERT_TRUE(state.ok());
      for (const TaskState& t : state->in_flight) mid_task += t.position.empty() ? 0 : 1;
      TrainerOptions r = o;
      r.resume = {&saved[i]};
      LocalStore again(trainer.NewModel(), rule());
      Result<TrainStats> resumed = Trainer(vocab_, r).Train(partitions_, again);
      ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
      EXPECT_TRUE(SameTable(again.model().table(0), plain.model.table(0)));
      EXPECT_TRUE(SameTable(again.model().table(1), plain.model.table(1)));
      EXPECT_EQ(resumed->words, plain.stats.words);
      EXPECT_EQ(resumed->epoch_loss, plain.stats.epoch_loss);
      EXPECT_LE(resumed->resumed_words, plain.stats.words);
      resumed_after_words += resumed->resumed_words > 0 ? 1 : 0;
    }
    EXPECT_GT(mid_task, 0u) << "no checkpoint paused inside a task";
    EXPECT_GT(resumed_after_words, 0u);
  }
}

// On the replica path (momentum: the store's rule is not plain SGD) a
// checkpoint holds the worker's change: it pauses with it pushed. A resumed
// run trains the rest of the words. (One worker: two would race on the
// embedded store's unlocked rows, by design, which ThreadSanitizer reports.)
TEST_F(TrainerTest, ResumingOnTheReplicaPathTrainsTheRest) {
  TrainerOptions o = Options();
  o.threads = 1;
  o.force_store_path = true;
  o.push_every = o.fetch_every = 3000;
  auto rule = [] { return std::make_unique<Sgd>(LearningRate{0.025f, true, 1e-4f}, 0.5f); };
  std::vector<Checkpoint> saved;
  Trainer trainer(vocab_, o);
  LocalStore local(trainer.NewModel(), rule());
  TrainerOptions c = o;
  c.checkpoint_every = 1e-4;
  c.on_checkpoint = [&](Checkpoint& ck) -> Status {
    saved.push_back(ck);
    return Status::OK();
  };
  Result<TrainStats> full = Trainer(vocab_, c).Train(partitions_, local);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_GE(saved.size(), 2u);
  const Checkpoint& middle = saved[saved.size() / 2];
  Result<TrainState> state = TrainState::Parse(*middle.Get("train"), "test");
  ASSERT_TRUE(state.ok());
  // The saved rows hold the work done: every worker pushed its change.
  Model initial = trainer.NewModel();
  Table out = initial.table(1);
  ASSERT_TRUE(middle.GetTable("table/1", &out).ok());
  EXPECT_FALSE(SameTable(out, initial.table(1)));
  EXPECT_GT(state->progress, 0u);
  LocalStore again(trainer.NewModel(), rule());
  TrainerOptions r = o;
  r.resume = {&middle};
  Result<TrainStats> resumed = Trainer(vocab_, r).Train(partitions_, again);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->words, full->words);
  EXPECT_EQ(again.progress(), local.progress());
  // It learns as the uninterrupted run did: its last epoch's loss is close.
  EXPECT_NEAR(resumed->loss, full->loss, 0.05 * full->loss);
}

}  // namespace
}  // namespace deepdist::word2vec
