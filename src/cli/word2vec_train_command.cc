// deepdist word2vec train: count the vocabulary, train on the model server,
// write the vectors. Embedded by default; under an MPI launcher every rank
// runs this same command: each counts and trains its share of the input, the
// counts are merged, rows are sharded over the ranks, and rank 0 alone
// prints and writes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "deepdist/checkpoint.h"
#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/partition.h"
#include "deepdist/store.h"
#include "deepdist/word2vec/evaluation.h"
#include "deepdist/word2vec/trainer.h"
#include "deepdist/word2vec/vectors.h"
#include "deepdist/word2vec/vocabulary.h"
#include "src/cli/checkpoint_files.h"
#include "src/cli/commands.h"
#include "src/cli/interrupt.h"
#include "src/cli/run_settings.h"
#include "src/core/atomic_file.h"
#include "src/monitor/progress.h"
#include "src/monitor/status_server.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::cli {

namespace {

constexpr long long kUnset = std::numeric_limits<long long>::min();

struct TrainFlags {
  std::vector<std::string> inputs;
  std::string output;
  std::string format;
  std::string model = "sg";
  long long dim = 100;
  long long window = 5;
  long long negative = 5;
  double sample = 1e-4;
  long long min_count = 5;
  long long max_vocab = 0;
  long long vocab_entries = 0;  // 0: no limit.
  std::string vocab_words;
  long long epochs = 5;
  long long threads = 0;
  double alpha = -1;
  double min_alpha = -1;
  std::string optimizer = "sgd";
  double momentum = 0;
  std::string mode = "async";
  std::string kernel = "batched";
  std::string loss = "ns";
  unsigned long long seed = 1;
  std::string save_vocab;
  std::string init_vectors;
  long long status_port = -1;  // -1: no status server.
  std::string status_bind = "127.0.0.1";
  std::string read_vocab;
  // kUnset: not given (a value nobody can type by mistake, unlike -1).
  long long push_every = kUnset;
  long long fetch_every = kUnset;
  long long hot_rows = kUnset;
  long long hot_every = kUnset;
  std::string wire;     // Empty: the default (RunTrain).
  std::string replica;  // Empty: full under MPI, rows in one process.
  std::string questions;
  double eval_every = 0;
  long long restrict = 30000;
  bool json = false;
  bool quiet = false;
  std::string checkpoint;  // DIR, or empty.
  double checkpoint_every = 300;
  std::string resume;  // DIR, or empty.
  // The flags given on the command line (their long names), so that a
  // resumed run can tell a conflicting flag from a default.
  std::set<std::string> given;
};

// Checks values CLI11 parsed as numbers but cannot range-check in one line.
std::string Validate(const TrainFlags& f) {
  if (f.status_port < -1 || f.status_port > 65535) return "--status-port: must be 0 to 65535";
  if (f.model != "sg" && f.model != "cbow")
    return "--model: must be sg or cbow, not \"" + f.model + "\"";
  if (!f.format.empty() && f.format != "bin" && f.format != "text")
    return "--format: must be bin or text, not \"" + f.format + "\"";
  if (f.dim < 1 || f.dim > 10000)
    return "--dim: must be between 1 and 10000, not " + std::to_string(f.dim);
  if (f.window < 1 || f.window > 1000)
    return "--window: must be between 1 and 1000, not " + std::to_string(f.window);
  if (f.negative < 1 || f.negative > 1000)
    return "--negative: must be between 1 and 1000, not " + std::to_string(f.negative);
  if (!(f.sample >= 0 && f.sample < 1)) return "--sample: must be in [0, 1)";
  if (f.min_count < 1) return "--min-count: must be at least 1, not " + std::to_string(f.min_count);
  if (f.max_vocab < 0) return "--max-vocab: must not be negative";
  if (f.vocab_entries < 0) return "--vocab-entries: must not be negative";
  if (f.epochs < 1 || f.epochs > 100000)
    return "--epochs: must be at least 1, not " + std::to_string(f.epochs);
  if (f.threads < 0 || f.threads > 4096) return "--threads: must be between 1 and 4096";
  if (f.alpha != -1 && !(f.alpha > 0 && f.alpha < 10)) return "--alpha: must be in (0, 10)";
  if (f.min_alpha != -1 && !(f.min_alpha > 0 && f.min_alpha < 10))
    return "--min-alpha: must be in (0, 10)";
  if (f.optimizer != "sgd" && f.optimizer != "adagrad" && f.optimizer != "adam")
    return "--optimizer: must be sgd, adagrad or adam, not \"" + f.optimizer + "\"";
  if (!(f.momentum >= 0 && f.momentum < 1)) return "--momentum: must be in [0, 1)";
  if (f.momentum > 0 && f.optimizer != "sgd") return "--momentum: only --optimizer sgd has one";
  if (f.min_alpha != -1 && f.optimizer != "sgd")
    return "--min-alpha: only --optimizer sgd decays its rate";
  if (f.mode != "async" && f.mode != "sync")
    return "--mode: must be async or sync, not \"" + f.mode + "\"";
  if (f.kernel != "pair" && f.kernel != "batched")
    return "--kernel: must be pair or batched, not \"" + f.kernel + "\"";
  if (f.loss != "ns" && f.loss != "hs") return "--loss: must be ns or hs, not \"" + f.loss + "\"";
  // Hierarchical softmax draws no negatives and trains pair by pair.
  if (f.loss == "hs" && f.given.count("negative") > 0)
    return "--negative: --loss hs draws no negatives (hierarchical softmax)";
  if (f.loss == "hs" && f.given.count("kernel") > 0 && f.kernel == "batched")
    return "--kernel: batched shares negatives; --loss hs trains pair by pair";
  if (f.push_every != kUnset && (f.push_every < 1 || f.push_every > (1ll << 40)))
    return "--push-every: must be between 1 and 2^40 words";
  if (f.fetch_every != kUnset && (f.fetch_every < 1 || f.fetch_every > (1ll << 40)))
    return "--fetch-every: must be between 1 and 2^40 words";
  if (f.hot_rows != kUnset && (f.hot_rows < 0 || f.hot_rows > (1ll << 40)))
    return "--hot-rows: must be between 0 and 2^40";
  if (f.hot_every != kUnset && (f.hot_every < 1 || f.hot_every > (1ll << 40)))
    return "--hot-every: must be between 1 and 2^40 words";
  if (!f.wire.empty() && f.wire != "fp32" && f.wire != "fp16" && f.wire != "int8" &&
      f.wire != "int4")
    return "--wire: must be fp32, fp16, int8 or int4, not \"" + f.wire + "\"";
  if (!f.replica.empty() && f.replica != "full" && f.replica != "rows")
    return "--replica: must be full or rows, not \"" + f.replica + "\"";
  const bool quantized = f.wire == "int8" || f.wire == "int4";
  if (quantized && f.mode == "sync")
    return "--wire: int8 and int4 carry asynchronous changes; --mode sync takes fp32 or fp16";
  if (quantized && f.replica == "rows")
    return "--wire: int8 and int4 carry a full replica's changes; --replica rows takes fp32 or "
           "fp16";
  if (!(f.eval_every >= 0 && f.eval_every <= 1e6))
    return "--eval-every: must be between 0 and 10^6 seconds";
  if (f.eval_every > 0 && f.questions.empty()) return "--eval-every: needs --questions";
  if (f.restrict < 0) return "--restrict: must not be negative";
  if (!(f.checkpoint_every > 0 && f.checkpoint_every <= 1e7))
    return "--checkpoint-every: must be more than 0 and at most 10^7 seconds";
  if (f.mode == "sync" && (!f.checkpoint.empty() || !f.resume.empty()))
    return "--checkpoint: --mode sync does not pause for checkpoints; use --mode async";
  if (f.inputs.empty()) return "--input: is required";
  return "";
}

// The flags a checkpoint keeps: they define the run it continues
// (src/cli/run_settings.h). --threads may change.
const std::vector<Setting<TrainFlags>>& Settings() {
  using F = TrainFlags;
  static const std::vector<Setting<F>> settings = {
      Bind<F>(
          "input", [](F & f) -> auto& { return f.inputs; }),
      Bind<F>(
          "model", [](F & f) -> auto& { return f.model; }),
      Bind<F>(
          "dim", [](F & f) -> auto& { return f.dim; }),
      Bind<F>(
          "window", [](F & f) -> auto& { return f.window; }),
      Bind<F>(
          "negative", [](F & f) -> auto& { return f.negative; }),
      Bind<F>(
          "sample", [](F & f) -> auto& { return f.sample; }),
      Bind<F>(
          "min-count", [](F & f) -> auto& { return f.min_count; }),
      Bind<F>(
          "max-vocab", [](F & f) -> auto& { return f.max_vocab; }),
      // Checkpoints from before --vocab-entries counted without a bound.
      WithAbsent(Bind<F>(
                     "vocab-entries", [](F & f) -> auto& { return f.vocab_entries; }),
                 "0"),
      Bind<F>(
          "vocab-words", [](F & f) -> auto& { return f.vocab_words; }),
      Bind<F>(
          "read-vocab", [](F & f) -> auto& { return f.read_vocab; }),
      Bind<F>(
          "init-vectors", [](F & f) -> auto& { return f.init_vectors; }),
      Bind<F>(
          "epochs", [](F & f) -> auto& { return f.epochs; }),
      Bind<F>(
          "threads", [](F & f) -> auto& { return f.threads; }, /*may_change=*/true),
      Bind<F>(
          "alpha", [](F & f) -> auto& { return f.alpha; }),
      Bind<F>(
          "min-alpha", [](F & f) -> auto& { return f.min_alpha; }),
      Bind<F>(
          "optimizer", [](F & f) -> auto& { return f.optimizer; }),
      Bind<F>(
          "momentum", [](F & f) -> auto& { return f.momentum; }),
      Bind<F>(
          "mode", [](F & f) -> auto& { return f.mode; }),
      Bind<F>(
          "kernel", [](F & f) -> auto& { return f.kernel; }),
      // Checkpoints from before --loss trained negative sampling.
      WithAbsent(Bind<F>(
                     "loss", [](F & f) -> auto& { return f.loss; }),
                 "ns"),
      Bind<F>(
          "seed", [](F & f) -> auto& { return f.seed; }),
      Bind<F>(
          "push-every", [](F & f) -> auto& { return f.push_every; }),
      Bind<F>(
          "fetch-every", [](F & f) -> auto& { return f.fetch_every; }),
      Bind<F>(
          "hot-rows", [](F & f) -> auto& { return f.hot_rows; }),
      Bind<F>(
          "hot-every", [](F & f) -> auto& { return f.hot_every; }),
      Bind<F>(
          "replica", [](F & f) -> auto& { return f.replica; }),
      Bind<F>(
          "wire", [](F & f) -> auto& { return f.wire; }),
  };
  return settings;
}

// Default Downpour intervals on the replica path (docs/DISTRIBUTED.md has
// the measurements behind them).
constexpr uint64_t kDefaultPushEvery = uint64_t{1} << 19;
constexpr uint64_t kDefaultFetchEvery = uint64_t{1} << 19;
// A full replica's pulls bring only what others pushed since the last one,
// so they can be frequent at few bytes (docs/DISTRIBUTED.md).
constexpr uint64_t kDefaultFullFetchEvery = uint64_t{1} << 13;
constexpr uint64_t kDefaultHotRows = 1024;
constexpr uint64_t kDefaultHotEvery = uint64_t{1} << 15;

// The Downpour intervals: those asked for, else the measured defaults
// (docs/DISTRIBUTED.md), never more than a tenth of the words a worker reads
// per epoch, so that a small job still syncs its replicas several times per
// partition (a rule that does not add a change as it is, AdaGrad, takes one
// step per push: on a job of a few pushes it learns nothing).
void SetIntervals(const TrainFlags& f, int ranks, uint64_t train_words,
                  word2vec::TrainerOptions* out) {
  word2vec::TrainerOptions& options = *out;
  // Intervals asked for on the embedded store put workers on replicas (the
  // Downpour scheme) instead of the master rows.
  const bool intervals_given =
      f.push_every > 0 || f.fetch_every > 0 || f.hot_rows > 0 || f.hot_every > 0;
  options.force_store_path = intervals_given;
  // Defaults: between ranks, the measured intervals; within one process
  // (AdaGrad, sync mode), replicas sync at every progress checkpoint (10,000
  // words), which costs only memory copies.
  const bool distributed = ranks > 1;
  const uint64_t workers = options.threads * static_cast<uint64_t>(ranks);
  const uint64_t cap = std::max<uint64_t>(1, train_words / workers / 10);
  // More ranks make each replica staler for the same interval (more
  // replicas change every row meanwhile): measured on 2 and 4 ranks, the
  // intervals that keep accuracy shrink with the square of the ranks.
  const double shrink = distributed ? 4.0 / (static_cast<double>(ranks) * ranks) : 1.0;
  auto scaled = [&](uint64_t interval, uint64_t floor) {
    return std::min(cap,
                    std::max(floor, static_cast<uint64_t>(static_cast<double>(interval) * shrink)));
  };
  const uint64_t default_push = distributed ? scaled(kDefaultPushEvery, uint64_t{1} << 14) : 0;
  options.push_every = f.push_every > 0 ? static_cast<uint64_t>(f.push_every) : default_push;
  // In one process replicas sync every 10,000 words, too often to compare
  // every row of a full copy each time.
  options.full_replica = f.replica.empty() ? distributed : f.replica == "full";
  if (f.fetch_every > 0) {
    options.fetch_every = static_cast<uint64_t>(f.fetch_every);
  } else if (options.full_replica) {
    options.fetch_every = distributed ? std::min(cap, kDefaultFullFetchEvery) : options.push_every;
  } else {
    options.fetch_every = std::max(distributed ? scaled(kDefaultFetchEvery, uint64_t{1} << 14) : 0,
                                   options.push_every);
  }
  options.hot_rows =
      f.hot_rows >= 0 ? static_cast<uint64_t>(f.hot_rows) : (distributed ? kDefaultHotRows : 0);
  options.hot_every =
      f.hot_every > 0 ? static_cast<uint64_t>(f.hot_every) : scaled(kDefaultHotEvery, 1u << 11);
}

// Ends a step that every rank takes: each passes its own status; when any
// failed, the lowest failing rank prints its message and every rank returns
// that rank's exit code, so an error that all ranks see is printed once.
// Returns 0 when every rank succeeded. A failed collective ends the job.
int Agree(Cluster& cluster, const Status& status, bool usage = false) {
  if (cluster.ranks() == 1) {
    if (status.ok()) return 0;
    return usage ? UsageError(status.message()) : ReportError(status);
  }
  const int code =
      status.ok() ? 0 : (usage || status.code() == Status::Code::kInvalidArgument ? 2 : 1);
  Result<std::vector<std::string>> codes =
      cluster.AllGather(std::string(1, static_cast<char>(code)));
  if (!codes.ok()) {
    ReportError(codes.status());
    cluster.Abort(1);
  }
  for (size_t r = 0; r < codes->size(); ++r) {
    const int c = (*codes)[r].empty() ? 1 : (*codes)[r][0];
    if (c == 0) continue;
    if (static_cast<int>(r) == cluster.rank())
      std::fprintf(stderr, "deepdist: %s\n", status.message().c_str());
    return c;
  }
  return 0;
}

// A failure seen by this rank alone, while the others may be anywhere:
// report it and end the whole job.
[[noreturn]] void Fail(Cluster& cluster, const Status& status) {
  const int code = ReportError(status);
  std::fflush(stderr);
  cluster.Abort(code);
  std::_Exit(code);  // Not reached: Abort ends the job.
}

int RunTrain(const TrainFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  TrainFlags f = flags;         // A resumed run takes its settings from the checkpoint.
  const Interrupts interrupts;  // SIGINT, SIGTERM: training stops, nothing is written.
  ClusterOptions cluster_options;
  // The default wire under MPI quantizes a full replica's asynchronous
  // changes to 4 bits: a fifth of fp32's bytes on 2 ranks and a sixth on 4,
  // at the same accuracy (docs/DISTRIBUTED.md). Other runs move values.
  std::string wire = f.wire;
  if (wire.empty()) {
    wire = LaunchedByMpi() && f.mode != "sync" && f.replica != "rows" ? "int4" : "fp32";
  }
  cluster_options.wire = wire == "fp16"   ? ClusterOptions::Wire::kFp16
                         : wire == "int8" ? ClusterOptions::Wire::kInt8
                         : wire == "int4" ? ClusterOptions::Wire::kInt4
                                          : ClusterOptions::Wire::kFp32;
  // Not launched by MPI: a cluster of one, without touching MPI.
  Result<std::unique_ptr<Cluster>> joined = JoinCluster(cluster_options);
  if (!joined.ok()) return ReportError(joined.status());
  Cluster& cluster = **joined;
  const bool lead = cluster.rank() == 0;
  const int ranks = cluster.ranks();

  // Checkpoints: --resume DIR goes on from DIR's checkpoint (and keeps
  // saving there unless --checkpoint names another); a DIR without one
  // starts fresh. Under MPI every rank reads it (the folder is shared).
  const std::string checkpoint_dir = !f.checkpoint.empty() ? f.checkpoint : f.resume;
  std::optional<SavedCheckpoint> saved;
  if (!f.resume.empty()) {
    Result<std::optional<SavedCheckpoint>> loaded = LoadCheckpointDir(f.resume);
    if (int code = Agree(cluster, loaded.status())) return code;
    saved = std::move(*loaded);
    if (saved) {
      const std::string* settings = saved->main.Get("settings");
      std::string problem =
          settings == nullptr
              ? "--resume: " + saved->main.source() + ": no saved settings"
              : ApplySettings(Settings(), *settings, saved->main.source(), f.given, &f);
      if (int code = Agree(
              cluster, problem.empty() ? Status::OK() : Status::InvalidArgument(problem), true)) {
        return code;
      }
      // Checked here, before any work; the engine reads them again.
      Status state;
      for (const Checkpoint* part : saved->parts()) {
        const std::string* train = part->Get("train");
        if (train == nullptr) {
          state = Status::Corruption(part->source() + ": no training state");
        } else if (Result<TrainState> parsed = TrainState::Parse(*train, part->source());
                   !parsed.ok()) {
          state = parsed.status();
        }
        if (!state.ok()) break;
      }
      if (int code = Agree(cluster, state)) return code;
    }
  }

  std::string why = Validate(f);
  if (why.empty() && ranks == 1 && !f.wire.empty() && f.wire != "fp32") {
    why = "--wire: only applies to a distributed run (under mpirun)";
  }
  if (int code = Agree(cluster, why.empty() ? Status::OK() : Status::InvalidArgument(why), true)) {
    return code;
  }

  word2vec::TrainerOptions options;
  options.model =
      f.model == "cbow" ? word2vec::Architecture::kCbow : word2vec::Architecture::kSkipGram;
  options.dim = static_cast<size_t>(f.dim);
  options.window = static_cast<int>(f.window);
  options.negative = static_cast<int>(f.negative);
  options.sample = f.sample;
  options.epochs = static_cast<size_t>(f.epochs);
  options.threads = f.threads > 0 ? static_cast<size_t>(f.threads)
                                  : std::max(1u, std::thread::hardware_concurrency());
  // Defaults: word2vec's for SGD; for AdaGrad and Adam the best of the rates
  // measured on skip-gram (docs/BENCHMARKS.md, "Descent rules").
  float default_alpha = options.model == word2vec::Architecture::kCbow ? 0.05f : 0.025f;
  if (f.optimizer == "adagrad") default_alpha = 0.1f;
  if (f.optimizer == "adam") default_alpha = 0.02f;
  options.alpha = f.alpha > 0 ? static_cast<float>(f.alpha) : default_alpha;
  if (f.min_alpha > 0) {
    if (f.min_alpha > options.alpha) {
      return Agree(cluster, Status::InvalidArgument("--min-alpha: must not exceed --alpha"), true);
    }
    options.min_alpha = static_cast<float>(f.min_alpha);
  }
  options.seed = f.seed;
  options.sync = f.mode == "sync";
  options.interrupt = Interrupts::flag();
  options.hierarchical_softmax = f.loss == "hs";
  options.shared_negatives = f.kernel == "batched" && !options.hierarchical_softmax;
  // Fail before any work when an output cannot be written (rank 0 writes)
  // or the questions cannot be read (rank 0 evaluates).
  Status writable;
  word2vec::QuestionSet questions;
  if (lead) {
    writable = AtomicFile::CheckWritable(f.output);
    if (writable.ok() && !f.save_vocab.empty()) writable = AtomicFile::CheckWritable(f.save_vocab);
    if (writable.ok() && !f.questions.empty()) {
      Result<word2vec::QuestionSet> read = word2vec::ReadQuestions(f.questions);
      if (read.ok()) {
        questions = std::move(*read);
      } else {
        writable = read.status();
      }
    }
  }
  if (writable.ok() && !checkpoint_dir.empty()) {
    writable = PrepareCheckpointDir(checkpoint_dir, /*clean=*/lead);
  }
  if (int code = Agree(cluster, writable)) return code;
  // Every rank reads the vectors to start from, so that all build the same
  // model; a file that cannot be used fails before any counting.
  word2vec::Vectors init;
  if (!f.init_vectors.empty() && !saved) {
    Status read;
    Result<word2vec::Vectors> loaded = word2vec::Vectors::Load(f.init_vectors);
    if (!loaded.ok()) {
      read = loaded.status();
    } else if (loaded->dim() != options.dim) {
      read = Status::InvalidArgument("--init-vectors: " + f.init_vectors +
                                     ": vectors of dimension " + std::to_string(loaded->dim()) +
                                     ", not --dim " + std::to_string(options.dim));
    } else {
      init = std::move(*loaded);
    }
    if (int code = Agree(cluster, read)) return code;
  }

  // Every rank lists the same partitions, one per worker. Each rank counts
  // the vocabulary of its share (p % ranks); in training every worker of
  // every rank takes the next (epoch, partition) from one sequence, so a
  // faster rank starts on the next epoch's partitions first. (Smaller
  // partitions would balance within an epoch too, but the workers then
  // train interleaved pieces of the input instead of one contiguous share
  // each, which cost about a point at 5 epochs on 4 ranks: measured,
  // docs/DISTRIBUTED.md.)
  PartitionOptions popts;
  popts.target_partitions = options.threads * static_cast<size_t>(ranks);
  Result<std::vector<PartitionSpec>> parts =
      saved ? (saved->main.Has("partitions")
                   ? LoadPartitions(*saved->main.Get("partitions"), saved->main.source())
                   : Status::Corruption(saved->main.source() + ": no partitions"))
            : ListPartitions(f.inputs, popts);
  if (int code = Agree(cluster, parts.status())) return code;

  word2vec::VocabularyOptions vopts;
  vopts.min_count = static_cast<uint64_t>(f.min_count);
  vopts.max_vocab = static_cast<size_t>(f.max_vocab);
  vopts.max_entries = static_cast<size_t>(f.vocab_entries);
  vopts.threads = options.threads;
  Status vocab_status;
  if (!f.vocab_words.empty()) {
    Result<std::vector<std::string>> words = word2vec::ReadWordList(f.vocab_words);
    if (words.ok()) {
      vopts.keep_only = std::move(words.value());
    } else {
      vocab_status = words.status();
    }
  }
  if (int code = Agree(cluster, vocab_status)) return code;
  nlohmann::json counting;  // What counting held and pruned, for --json; null if not counted.
  Result<word2vec::Vocabulary> vocab = Status::OK();
  if (saved) {
    // The checkpoint's vocabulary, as counted when the run began.
    const std::string* text = saved->main.Get("vocab");
    Result<word2vec::WordCounts> counts =
        text != nullptr ? word2vec::WordCounts::Parse(*text)
                        : Status::Corruption(saved->main.source() + ": no vocabulary");
    if (!counts.ok()) {
      return Agree(cluster, Status::Corruption(saved->main.source() +
                                               ": vocab: " + counts.status().message()));
    }
    word2vec::VocabularyOptions as_saved;
    as_saved.min_count = 1;
    vocab = word2vec::Vocabulary::FromCounts(counts->words, counts->tokens, as_saved);
  } else if (!f.read_vocab.empty()) {
    vocab = word2vec::Vocabulary::Load(f.read_vocab, vopts);
    if (int code = Agree(cluster, vocab.status())) return code;
  } else {
    std::vector<PartitionSpec> mine;
    for (size_t p = static_cast<size_t>(cluster.rank()); p < parts->size();
         p += static_cast<size_t>(ranks)) {
      mine.push_back((*parts)[p]);
    }
    Result<word2vec::WordCounts> counts =
        word2vec::Vocabulary::CountWords(mine, options.threads, vopts.max_entries);
    if (int code = Agree(cluster, counts.status())) return code;
    if (ranks > 1) {
      // The seed's reduceByKey: every rank merges every rank's counts, so
      // all agree on the word ids and the negative table.
      Result<std::vector<std::string>> all = cluster.AllGather(counts->Serialize());
      if (!all.ok()) Fail(cluster, all.status());
      word2vec::WordCounts merged;
      for (const std::string& text : *all) {
        Result<word2vec::WordCounts> one = word2vec::WordCounts::Parse(text);
        if (!one.ok()) Fail(cluster, one.status());
        merged.Merge(*one, vopts.max_entries);
      }
      // This rank's own counting, for the summary: only after the merge,
      // whose pruning every rank must do alike.
      merged.peak_entries = counts->peak_entries;
      merged.prune_threshold = std::max(merged.prune_threshold, counts->prune_threshold);
      counts = std::move(merged);
    }
    counting = {{"vocab_counted", counts->words.size()},
                {"vocab_peak_entries", counts->peak_entries},
                {"vocab_prune_threshold", counts->prune_threshold}};
    vocab = word2vec::Vocabulary::FromCounts(counts->words, counts->tokens, vopts);
  }
  if (vocab->size() == 0) {
    const std::string source = f.read_vocab.empty() ? f.inputs.front() : f.read_vocab;
    return Agree(cluster,
                 Status::Corruption(source + ": no word occurs at least " +
                                    std::to_string(f.min_count) + " times (--min-count)" +
                                    (f.vocab_words.empty() ? "" : " among the --vocab-words")));
  }

  SetIntervals(f, ranks, vocab->train_words(), &options);
  // The word vectors as they stood every --eval-every seconds, kept (the
  // rows --restrict searches) and evaluated after training, so that the
  // evaluation takes no time from training.
  struct Point {
    double seconds = 0;
    double progress = 0;
    word2vec::Vectors vectors;
  };
  std::vector<Point> points;
  const size_t eval_rows = static_cast<size_t>(f.restrict);
  if (f.eval_every > 0) {
    options.snapshot_every = f.eval_every;
    options.on_snapshot = [&](TrainSnapshot snapshot) {
      points.push_back({snapshot.seconds, snapshot.progress,
                        word2vec::Vectors::FromTable(*vocab, snapshot.model.table(0), eval_rows)});
    };
  }
  // Checkpoints: the store's rows and the engine's state, with what a
  // resumed run needs besides (settings, partitions, vocabulary), every
  // --checkpoint-every seconds and when a signal stops the run.
  std::optional<CheckpointWriter> checkpoints;
  if (!checkpoint_dir.empty()) {
    word2vec::WordCounts counts;
    counts.tokens = vocab->corpus_words();
    for (size_t w = 0; w < vocab->size(); ++w) {
      const auto id = static_cast<int32_t>(w);
      counts.words.emplace_back(vocab->word(id), vocab->count(id));
    }
    checkpoints.emplace(
        cluster, checkpoint_dir,
        std::map<std::string, std::string>{{"settings", SaveSettings(Settings(), f)},
                                           {"vocab", counts.Serialize()},
                                           {"partitions", SavePartitions(*parts)}},
        saved ? saved->generation : CurrentGeneration(checkpoint_dir));
    options.checkpoint_every = f.checkpoint_every;
    options.on_checkpoint = [&](Checkpoint& c) { return checkpoints->Save(c); };
  }
  if (saved) options.resume = saved->parts();
  word2vec::Trainer trainer(*vocab, options);
  LearningRate lr = trainer.Schedule();
  lr.linear_decay = f.optimizer == "sgd";
  DescentOptions rule;
  rule.momentum = static_cast<float>(f.momentum);
  Model initial = trainer.NewModel();
  size_t init_words = 0;
  if (!f.init_vectors.empty() && !saved) {
    Result<size_t> found = trainer.InitFromVectors(init, &initial);
    if (!found.ok()) Fail(cluster, found.status());  // Not reached: the dimension was checked.
    init_words = *found;
    init = word2vec::Vectors();  // Its memory back.
  }
  std::unique_ptr<ParamStore> store =
      cluster.MakeStore(std::move(initial), MakeDescent(f.optimizer, lr, rule));
  // The status server, rank 0's: a port that cannot be had fails the run
  // before it trains.
  std::unique_ptr<StatusServer> status;
  Status serving;
  if (lead && f.status_port >= 0) {
    Result<std::unique_ptr<StatusServer>> started =
        StatusServer::Start(f.status_bind, static_cast<int>(f.status_port), ranks);
    if (started.ok()) {
      status = std::move(*started);
      std::fprintf(stderr, "status: http://%s:%d/\n", f.status_bind.c_str(), status->port());
      std::fflush(stderr);
    } else {
      serving = started.status();
    }
  }
  if (int code = Agree(cluster, serving)) return code;
  ProgressLine progress(stderr, lead && !f.quiet);
  Result<word2vec::TrainStats> stats =
      trainer.Train(*parts, *store, [&](const word2vec::TrainProgress& p) {
        const uint64_t words = p.words * static_cast<uint64_t>(ranks);
        const double fresh = static_cast<double>((p.words - p.resumed_words) * ranks);
        progress.Update(p.fraction, static_cast<uint64_t>(fresh), p.seconds, p.learning_rate,
                        p.loss);
        if (status != nullptr) {
          status->Update({.seconds = p.seconds,
                          .progress = p.fraction,
                          .done = words,
                          .per_second = p.seconds > 0 ? fresh / p.seconds : 0.0,
                          .learning_rate = p.learning_rate,
                          .loss = p.loss,
                          .bytes_sent = store->bytes_sent(),
                          .updates = p.activity.updates,
                          .staleness = p.activity.staleness});
        }
      });
  progress.Finish();
  // A worker's failure (a truncated .gz in this rank's share, say) is this
  // rank's alone: the others are training or waiting for it.
  if (!stats.ok()) {
    if (const int code = Interrupts::Stop(
            cluster, f.output, stats.status(),
            checkpoints && checkpoints->taken() > 0 ? checkpoints->path() : std::string()))
      return code;
    Fail(cluster, stats.status());
  }

  Result<Model> model = store->TakeModel();
  if (!model.ok()) Fail(cluster, model.status());
  // Totals over the ranks: words read, loss, bytes.
  Result<word2vec::TrainStats> totals = word2vec::CombineRanks(cluster, *stats);
  if (!totals.ok()) Fail(cluster, totals.status());
  const uint64_t words = totals->words;
  const double loss = totals->loss;
  const std::vector<double>& epoch_loss = totals->epoch_loss;
  uint64_t bytes_sent = 0;

  Status written;
  if (lead) {
    const word2vec::VectorFormat format =
        f.format.empty() ? word2vec::FormatForPath(f.output)
                         : (f.format == "text" ? word2vec::VectorFormat::kText
                                               : word2vec::VectorFormat::kBinary);
    written = word2vec::SaveVectors(f.output, format, *vocab, model->table(0));
    // The vocabulary only with the vectors it belongs to: a failed training
    // leaves neither behind.
    if (written.ok() && !f.save_vocab.empty()) written = vocab->Save(f.save_vocab);
  }
  if (int code = Agree(cluster, written)) return code;
  // A signal once training is over: the vectors are written; nothing else.
  if (const int code = Interrupts::StopAfterOutput(cluster, lead ? f.output : "")) return code;
  if (ranks > 1) {
    // Counted last, so the collectives above are in it too.
    Result<uint64_t> total = cluster.Sum(cluster.bytes_sent());
    if (!total.ok()) Fail(cluster, total.status());
    bytes_sent = *total;
  }
  if (!lead) return 0;

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A resumed run's speed counts the words it read itself.
  const uint64_t resumed_words = stats->resumed_words;
  const double wps = seconds > 0 ? static_cast<double>(words - resumed_words) / seconds : 0.0;
  // After the clock: evaluation is not training time.
  // Analogy accuracy of the snapshots, then of the final vectors.
  nlohmann::json series = nlohmann::json::array();
  double accuracy = 0;
  if (!f.questions.empty()) {
    points.push_back(
        {stats->seconds, 1.0, word2vec::Vectors::FromTable(*vocab, model->table(0), eval_rows)});
    for (Point& p : points) {
      p.vectors.Normalize();
      accuracy =
          word2vec::EvaluateAnalogies(p.vectors, questions, eval_rows, options.threads).accuracy();
      series.push_back({{"seconds", p.seconds}, {"progress", p.progress}, {"accuracy", accuracy}});
      if (!f.json) {
        std::printf("analogy accuracy %.2f%% at %.1f s of training (%.0f%% of the words)\n",
                    100.0 * accuracy, p.seconds, 100.0 * p.progress);
      }
      p.vectors = word2vec::Vectors();  // Its memory back.
    }
  }

  if (f.json) {
    nlohmann::json j;
    j["words"] = words;
    j["seconds"] = seconds;
    j["words_per_second"] = wps;
    j["vocab_size"] = vocab->size();
    if (!counting.is_null()) j.update(counting);
    if (!f.init_vectors.empty()) j["init_words"] = init_words;
    if (!checkpoint_dir.empty()) {
      j["checkpoints"] = checkpoints ? checkpoints->taken() : 0;
      j["resumed"] = saved.has_value();
      j["resumed_words"] = resumed_words;
    }
    j["loss"] = loss;
    j["loss_function"] = f.loss;  // ns or hs: what `loss` is the mean of.
    j["epoch_loss"] = epoch_loss;
    j["train_seconds"] = stats->seconds;
    j["threads"] = options.threads;
    j["ranks"] = ranks;
    j["bytes_sent"] = bytes_sent;
    j["bytes_per_word"] =
        words > 0 ? static_cast<double>(bytes_sent) / static_cast<double>(words) : 0.0;
    j["simd"] = word2vec::KernelTarget();
    j["output"] = f.output;
    if (!f.questions.empty()) {
      j["accuracy"] = accuracy;
      if (f.eval_every > 0) j["accuracy_series"] = series;
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "trained %s on %llu words in %.1f s (%.0f words/s), %zu words in the vocabulary, "
        "final loss %.4f; vectors in %s\n",
        (f.model + (f.loss == "hs" ? " with hierarchical softmax" : "")).c_str(),
        static_cast<unsigned long long>(words), seconds, wps, vocab->size(), loss,
        f.output.c_str());
  }
  return 0;
}

}  // namespace

void RegisterWord2VecTrain(CLI::App& word2vec, Action& run) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = word2vec.add_subcommand("train", "Train word vectors on text.");
  cmd->add_option("--input", flags->inputs,
                  "Text files, directories of part files, or .gz files (a line is a sentence)")
      ->expected(1, -1);
  cmd->add_option("--output", flags->output, "Where to write the vectors")->required();
  cmd->add_option("--format", flags->format, "bin or text (default: text for .txt/.vec, else bin)");
  cmd->add_option("--model", flags->model, "sg (skip-gram) or cbow")->capture_default_str();
  cmd->add_option("--dim", flags->dim, "Vector dimensions")->capture_default_str();
  cmd->add_option("--window", flags->window, "Maximum context window")->capture_default_str();
  cmd->add_option("--negative", flags->negative, "Negative samples per target")
      ->capture_default_str();
  cmd->add_option("--sample", flags->sample, "Subsampling threshold for frequent words (0: off)")
      ->capture_default_str();
  cmd->add_option("--min-count", flags->min_count, "Drop words seen fewer times")
      ->capture_default_str();
  cmd->add_option("--max-vocab", flags->max_vocab, "Keep at most this many words (0: all)")
      ->capture_default_str();
  cmd->add_option("--vocab-entries", flags->vocab_entries,
                  "Most distinct words held while counting, all threads together (0: no limit); "
                  "past it the rarest are pruned as word2vec.c's ReduceVocab does, which makes "
                  "counts near the pruning threshold approximate")
      ->capture_default_str();
  cmd->add_option("--vocab-words", flags->vocab_words,
                  "Keep only the words listed in FILE (an analogy questions file works)");
  cmd->add_option("--epochs", flags->epochs, "Passes over the input")->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Worker threads (default: hardware threads)");
  cmd->add_option("--alpha", flags->alpha,
                  "Starting learning rate (default 0.025 sg, 0.05 cbow; 0.1 with --optimizer "
                  "adagrad, 0.02 with adam)");
  cmd->add_option("--min-alpha", flags->min_alpha,
                  "Learning rate at the end of the run (default alpha / (4 * epochs) sg, "
                  "alpha / (2 * epochs) cbow; 2.5 times lower with --loss hs)");
  cmd->add_option("--optimizer", flags->optimizer,
                  "Descent rule on the model server: sgd, adagrad or adam (docs/DESCENT.md); "
                  "adagrad and adam keep --alpha constant")
      ->capture_default_str();
  cmd->add_option("--momentum", flags->momentum,
                  "Momentum of --optimizer sgd, in [0, 1) (default 0: plain SGD, whose workers "
                  "may update the master rows in place)");
  cmd->add_option("--mode", flags->mode,
                  "async (Downpour-like, no barrier) or sync (MLlib-like rounds, averaged)")
      ->capture_default_str();
  cmd->add_option("--kernel", flags->kernel,
                  "pair (word2vec.c's per-pair updates) or batched (each window scored as one "
                  "small matrix product; skip-gram shares its negatives across the window)")
      ->capture_default_str();
  cmd->add_option("--loss", flags->loss,
                  "ns (negative sampling, --negative words per pair) or hs (hierarchical "
                  "softmax over the vocabulary's Huffman tree, pair by pair; word2vec.c's -hs 1 "
                  "-negative 0)")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  cmd->add_option("--save-vocab", flags->save_vocab,
                  "Write the vocabulary (word count lines) to FILE");
  cmd->add_option("--read-vocab", flags->read_vocab,
                  "Read the vocabulary from FILE instead of counting");
  cmd->add_option("--status-port", flags->status_port,
                  "Serve the run's status over HTTP on this port (0: any free port, printed on "
                  "stderr): /status (JSON), /metrics (Prometheus) and a page at /; read-only; "
                  "rank 0 only");
  cmd->add_option("--status-bind", flags->status_bind,
                  "The address --status-port listens on (another than 127.0.0.1 makes the "
                  "status reachable from other machines)")
      ->capture_default_str();
  cmd->add_option("--init-vectors", flags->init_vectors,
                  "Start from the word vectors in FILE (word2vec binary or text, of --dim "
                  "dimensions): the words found there start from their vectors, the others "
                  "at random; the output weights start at zero");
  cmd->add_option("--push-every", flags->push_every,
                  "Words a worker trains on its replica between pushes of the change "
                  "(Downpour's n_push; default under MPI 2^19 x (2 / ranks)^2, at least 2^14; "
                  "10,000 in one process, where giving it puts workers on replicas instead "
                  "of the master rows). Every default interval is at most a tenth of the "
                  "words a worker reads per epoch");
  cmd->add_option("--fetch-every", flags->fetch_every,
                  "Words between refreshes of a worker's replica (Downpour's n_fetch). "
                  "--replica full: a pull of the rows others changed, default 2^13 under MPI; "
                  "rows: the rows dropped and pulled again when needed, default as "
                  "--push-every, and at least it");
  cmd->add_option("--hot-rows", flags->hot_rows,
                  "The most frequent words whose rows are synced every --hot-every words "
                  "(default 1024 under MPI, 0 in one process)");
  cmd->add_option("--hot-every", flags->hot_every,
                  "Words between pushes and refreshes of the hot rows (default under MPI "
                  "2^15 x (2 / ranks)^2, at least 2^11)");
  cmd->add_option("--replica", flags->replica,
                  "What a worker's replica holds on the replica path: full (every row, "
                  "trained in place and merged with the store's in the background) or rows "
                  "(the rows of each batch, made present before it trains); default full under "
                  "MPI, rows in one process");
  cmd->add_option("--wire", flags->wire,
                  "Row values between ranks: fp32, fp16 (half the bytes), or int8 / int4 (a "
                  "full replica's changes quantized to 8 or 4 bits per value with a scale per "
                  "row, the rounding error sent with the row's next change; async only); MPI "
                  "only. Default int4 under MPI (async, full replica), else fp32");
  cmd->add_option("--questions", flags->questions,
                  "Analogy questions (word2vec's questions-words.txt format): report the "
                  "accuracy of the trained vectors");
  cmd->add_option("--eval-every", flags->eval_every,
                  "With --questions: also the accuracy of the word vectors as they stood every "
                  "SECONDS of training (copied from the model server while training goes on, "
                  "evaluated after it, so evaluation takes no training time)");
  cmd->add_option("--restrict", flags->restrict,
                  "With --questions: search only the most frequent N words (0: all)")
      ->capture_default_str();
  cmd->add_option("--checkpoint", flags->checkpoint,
                  "Save a checkpoint (the model, optimizer state, vocabulary, settings and where "
                  "training stands) in DIR every --checkpoint-every seconds and when SIGINT or "
                  "SIGTERM stops the run; atomically, the previous one kept until the new one is "
                  "whole. Under mpirun each rank saves its shard (DIR shared by every rank). "
                  "--mode async");
  cmd->add_option("--checkpoint-every", flags->checkpoint_every,
                  "Seconds of training between checkpoints")
      ->capture_default_str();
  cmd->add_option("--resume", flags->resume,
                  "Go on from the checkpoint in DIR (its settings; a flag given with another "
                  "value is an error; --threads and the number of ranks may change), saving "
                  "further checkpoints there; a DIR without a checkpoint starts a fresh run. With "
                  "--threads 1 (embedded) the vectors "
                  "are bit-identical to an uninterrupted run's");
  cmd->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet", flags->quiet, "No progress line");
  cmd->callback([flags, &run, cmd] {
    flags->given = GivenSettings(*cmd, Settings());
    run = [flags] { return RunTrain(*flags); };
  });
}

}  // namespace deepdist::cli
