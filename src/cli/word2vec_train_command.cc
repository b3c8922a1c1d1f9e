// deepdist word2vec train: count the vocabulary, train on the embedded model
// server, write the vectors.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "deepdist/descent.h"
#include "deepdist/partition.h"
#include "deepdist/store.h"
#include "deepdist/word2vec/trainer.h"
#include "deepdist/word2vec/vectors.h"
#include "deepdist/word2vec/vocabulary.h"
#include "src/cli/commands.h"
#include "src/core/atomic_file.h"
#include "src/monitor/progress.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::cli {

namespace {

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
  std::string vocab_words;
  long long epochs = 5;
  long long threads = 0;
  double alpha = -1;
  double min_alpha = -1;
  std::string optimizer = "sgd";
  std::string mode = "async";
  std::string kernel = "batched";
  unsigned long long seed = 1;
  std::string save_vocab;
  std::string read_vocab;
  bool json = false;
  bool quiet = false;
};

// Checks values CLI11 parsed as numbers but cannot range-check in one line.
std::string Validate(const TrainFlags& f) {
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
  if (f.epochs < 1 || f.epochs > 100000)
    return "--epochs: must be at least 1, not " + std::to_string(f.epochs);
  if (f.threads < 0 || f.threads > 4096) return "--threads: must be between 1 and 4096";
  if (f.alpha != -1 && !(f.alpha > 0 && f.alpha < 10)) return "--alpha: must be in (0, 10)";
  if (f.min_alpha != -1 && !(f.min_alpha > 0 && f.min_alpha < 10))
    return "--min-alpha: must be in (0, 10)";
  if (f.optimizer != "sgd" && f.optimizer != "adagrad")
    return "--optimizer: must be sgd or adagrad, not \"" + f.optimizer + "\"";
  if (f.mode != "async" && f.mode != "sync")
    return "--mode: must be async or sync, not \"" + f.mode + "\"";
  if (f.kernel != "pair" && f.kernel != "batched")
    return "--kernel: must be pair or batched, not \"" + f.kernel + "\"";
  if (f.inputs.empty()) return "--input: is required";
  return "";
}

int RunTrain(const TrainFlags& f) {
  const auto start = std::chrono::steady_clock::now();
  if (std::string why = Validate(f); !why.empty()) return UsageError(why);

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
  options.alpha = f.alpha > 0 ? static_cast<float>(f.alpha)
                              : (options.model == word2vec::Architecture::kCbow ? 0.05f : 0.025f);
  if (f.min_alpha > 0) {
    if (f.min_alpha > options.alpha) return UsageError("--min-alpha: must not exceed --alpha");
    options.min_alpha = static_cast<float>(f.min_alpha);
  }
  options.seed = f.seed;
  options.sync = f.mode == "sync";
  options.shared_negatives = f.kernel == "batched";

  // Fail before any work when an output cannot be written.
  if (Status s = AtomicFile::CheckWritable(f.output); !s.ok()) return ReportError(s);
  if (!f.save_vocab.empty()) {
    if (Status s = AtomicFile::CheckWritable(f.save_vocab); !s.ok()) return ReportError(s);
  }

  PartitionOptions popts;
  popts.target_partitions = options.threads;
  Result<std::vector<PartitionSpec>> parts = ListPartitions(f.inputs, popts);
  if (!parts.ok()) return ReportError(parts.status());

  word2vec::VocabularyOptions vopts;
  vopts.min_count = static_cast<uint64_t>(f.min_count);
  vopts.max_vocab = static_cast<size_t>(f.max_vocab);
  vopts.threads = options.threads;
  if (!f.vocab_words.empty()) {
    Result<std::vector<std::string>> words = word2vec::ReadWordList(f.vocab_words);
    if (!words.ok()) return ReportError(words.status());
    vopts.keep_only = std::move(words.value());
  }
  Result<word2vec::Vocabulary> vocab = f.read_vocab.empty()
                                           ? word2vec::Vocabulary::Count(*parts, vopts)
                                           : word2vec::Vocabulary::Load(f.read_vocab, vopts);
  if (!vocab.ok()) return ReportError(vocab.status());
  if (vocab->size() == 0) {
    const std::string source = f.read_vocab.empty() ? f.inputs.front() : f.read_vocab;
    return ReportError(Status::Corruption(
        source + ": no word occurs at least " + std::to_string(f.min_count) +
        " times (--min-count)" + (f.vocab_words.empty() ? "" : " among the --vocab-words")));
  }
  if (!f.save_vocab.empty()) {
    if (Status s = vocab->Save(f.save_vocab); !s.ok()) return ReportError(s);
  }

  word2vec::Trainer trainer(*vocab, options);
  LearningRate lr = trainer.Schedule();
  lr.linear_decay = f.optimizer == "sgd";
  LocalStore store(trainer.NewModel(), MakeDescent(f.optimizer, lr));
  ProgressLine progress(stderr, !f.quiet);
  Result<word2vec::TrainStats> stats =
      trainer.Train(*parts, store, [&](const word2vec::TrainProgress& p) {
        progress.Update(p.fraction, p.words, p.seconds, p.learning_rate, p.loss);
      });
  progress.Finish();
  if (!stats.ok()) return ReportError(stats.status());

  const word2vec::VectorFormat format =
      f.format.empty()
          ? word2vec::FormatForPath(f.output)
          : (f.format == "text" ? word2vec::VectorFormat::kText : word2vec::VectorFormat::kBinary);
  if (Status s = word2vec::SaveVectors(f.output, format, *vocab, store.model().table(0)); !s.ok()) {
    return ReportError(s);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double wps = seconds > 0 ? static_cast<double>(stats->words) / seconds : 0.0;
  if (f.json) {
    nlohmann::json j;
    j["words"] = stats->words;
    j["seconds"] = seconds;
    j["words_per_second"] = wps;
    j["vocab_size"] = vocab->size();
    j["loss"] = stats->loss;
    j["epoch_loss"] = stats->epoch_loss;
    j["train_seconds"] = stats->seconds;
    j["threads"] = options.threads;
    j["simd"] = word2vec::KernelTarget();
    j["output"] = f.output;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "trained %s on %llu words in %.1f s (%.0f words/s), %zu words in the vocabulary, "
        "final loss %.4f; vectors in %s\n",
        f.model.c_str(), static_cast<unsigned long long>(stats->words), seconds, wps, vocab->size(),
        stats->loss, f.output.c_str());
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
  cmd->add_option("--vocab-words", flags->vocab_words,
                  "Keep only the words listed in FILE (an analogy questions file works)");
  cmd->add_option("--epochs", flags->epochs, "Passes over the input")->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Worker threads (default: hardware threads)");
  cmd->add_option("--alpha", flags->alpha, "Starting learning rate (default 0.025 sg, 0.05 cbow)");
  cmd->add_option("--min-alpha", flags->min_alpha,
                  "Learning rate at the end of the run (default alpha / (4 * epochs) sg, "
                  "alpha / (2 * epochs) cbow)");
  cmd->add_option("--optimizer", flags->optimizer,
                  "Descent rule on the model server: sgd or adagrad")
      ->capture_default_str();
  cmd->add_option("--mode", flags->mode,
                  "async (Downpour-like, no barrier) or sync (MLlib-like rounds, averaged)")
      ->capture_default_str();
  cmd->add_option("--kernel", flags->kernel,
                  "pair (word2vec.c's per-pair updates) or batched (each window scored as one "
                  "small matrix product; skip-gram shares its negatives across the window)")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  cmd->add_option("--save-vocab", flags->save_vocab,
                  "Write the vocabulary (word count lines) to FILE");
  cmd->add_option("--read-vocab", flags->read_vocab,
                  "Read the vocabulary from FILE instead of counting");
  cmd->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet", flags->quiet, "No progress line");
  cmd->callback([flags, &run] { run = [flags] { return RunTrain(*flags); }; });
}

}  // namespace deepdist::cli
