#include "word2vec_binding.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/partition.h"
#include "deepdist/word2vec/trainer.h"
#include "deepdist/word2vec/vocabulary.h"
#include "errors.h"
#include "keyed_vectors.h"
#include "process_cluster.h"

namespace deepdist::python {
namespace {

namespace py = pybind11;

// What deepdist.Word2Vec passes down, already checked by the Python layer
// (python/deepdist/word2vec.py), which gives each a gensim argument's name.
struct Word2VecSettings {
  std::vector<std::string> inputs;
  bool cbow = false;
  size_t dim = 100;
  int window = 5;
  int negative = 5;
  bool hierarchical_softmax = false;
  double sample = 1e-4;
  uint64_t min_count = 5;
  size_t max_entries = 0;  // 0: exact counts (gensim's max_vocab_size=None).
  size_t epochs = 5;
  size_t threads = 0;   // 0: one per hardware thread.
  float alpha = 0;      // 0: the CLI's default for the architecture.
  float min_alpha = 0;  // 0: the engine's default.
  uint64_t seed = 1;
};

// The CLI's Downpour intervals when none is asked for
// (src/cli/word2vec_train_command.cc, SetIntervals; docs/DISTRIBUTED.md has
// the measurements behind them): embedded, workers train the master rows
// (Hogwild); between ranks, full replicas with these intervals.
void SetDefaultIntervals(int ranks, uint64_t train_words, word2vec::TrainerOptions* options) {
  constexpr uint64_t kPushEvery = uint64_t{1} << 19;
  constexpr uint64_t kFetchEvery = uint64_t{1} << 13;
  constexpr uint64_t kHotRows = 1024;
  constexpr uint64_t kHotEvery = uint64_t{1} << 15;
  const bool distributed = ranks > 1;
  const uint64_t workers = options->threads * static_cast<uint64_t>(ranks);
  const uint64_t cap = std::max<uint64_t>(1, train_words / workers / 10);
  const double shrink = distributed ? 4.0 / (static_cast<double>(ranks) * ranks) : 1.0;
  auto scaled = [&](uint64_t interval, uint64_t floor) {
    return std::min(cap,
                    std::max(floor, static_cast<uint64_t>(static_cast<double>(interval) * shrink)));
  };
  options->force_store_path = false;
  options->push_every = distributed ? scaled(kPushEvery, uint64_t{1} << 14) : 0;
  options->full_replica = distributed;
  options->fetch_every = distributed ? std::min(cap, kFetchEvery) : options->push_every;
  options->hot_rows = distributed ? kHotRows : 0;
  options->hot_every = scaled(kHotEvery, 1u << 11);
}

// Every rank's status, so that every rank raises the same error: the one of
// the lowest rank that failed (its message names what it saw).
Status Agree(Cluster& cluster, const Status& status) {
  if (cluster.ranks() == 1) return status;
  std::string mine;
  if (!status.ok()) mine = std::to_string(static_cast<int>(status.code())) + " " + status.message();
  Result<std::vector<std::string>> all = cluster.AllGather(mine);
  if (!all.ok()) return all.status();
  for (size_t r = 0; r < all->size(); ++r) {
    const std::string& text = (*all)[r];
    if (text.empty()) continue;
    if (static_cast<int>(r) == cluster.rank()) return status;
    const size_t space = text.find(' ');
    const int code = std::atoi(text.substr(0, space).c_str());
    const std::string message = "rank " + std::to_string(r) + ": " + text.substr(space + 1);
    switch (static_cast<Status::Code>(code)) {
      case Status::Code::kInvalidArgument:
        return Status::InvalidArgument(message);
      case Status::Code::kNotFound:
        return Status::NotFound(message);
      case Status::Code::kIOError:
        return Status::IOError(message);
      case Status::Code::kCorruption:
        return Status::Corruption(message);
      default:
        return Status::Internal(message);
    }
  }
  return Status::OK();
}

// The vocabulary as the CLI counts it: each rank its share of the
// partitions (p % ranks), then every rank merges every rank's counts in
// rank order, so that all agree on the word ids.
Result<word2vec::Vocabulary> CountVocabulary(Cluster& cluster,
                                             const std::vector<PartitionSpec>& parts,
                                             const word2vec::VocabularyOptions& vopts) {
  const size_t ranks = static_cast<size_t>(cluster.ranks());
  std::vector<PartitionSpec> mine;
  for (size_t p = static_cast<size_t>(cluster.rank()); p < parts.size(); p += ranks) {
    mine.push_back(parts[p]);
  }
  Result<word2vec::WordCounts> counts =
      word2vec::Vocabulary::CountWords(mine, vopts.threads, vopts.max_entries);
  DD_RETURN_IF_ERROR(Agree(cluster, counts.status()));
  if (ranks > 1) {
    Result<std::vector<std::string>> all = cluster.AllGather(counts->Serialize());
    if (!all.ok()) return all.status();
    word2vec::WordCounts merged;
    for (const std::string& text : *all) {
      Result<word2vec::WordCounts> one = word2vec::WordCounts::Parse(text);
      if (!one.ok()) return one.status();
      merged.Merge(*one, vopts.max_entries);
    }
    counts = std::move(merged);
  }
  return word2vec::Vocabulary::FromCounts(counts->words, counts->tokens, vopts);
}

// Logs the training's progress through Python's logging (logger
// "deepdist"), about once a second, and notices Ctrl-C: called on the
// thread that trains, with the GIL released.
class ProgressReporter {
 public:
  ProgressReporter(bool lead, int ranks, std::atomic<bool>* interrupt, PythonErrors* errors)
      : lead_(lead), ranks_(ranks), interrupt_(interrupt), errors_(errors) {
    logger_ = py::module_::import("logging").attr("getLogger")("deepdist");
  }
  ~ProgressReporter() {
    py::gil_scoped_acquire gil;
    logger_ = py::object();
  }

  void operator()(const word2vec::TrainProgress& p) {
    py::gil_scoped_acquire gil;
    if (!interrupt_->load() && PyErr_CheckSignals() != 0) {
      errors_->RecordCurrent();  // KeyboardInterrupt, raised when training has stopped.
      interrupt_->store(true);
    }
    if (!lead_ || p.seconds < next_log_) return;
    next_log_ = p.seconds + 1.0;
    const double words = static_cast<double>(p.words) * ranks_;
    char line[256];
    std::snprintf(line, sizeof(line),
                  "training: %.2f%% of the words, %.0f words/s, alpha %.6f, loss %.4f",
                  100.0 * p.fraction, p.seconds > 0 ? words / p.seconds : 0.0,
                  static_cast<double>(p.learning_rate), p.loss);
    logger_.attr("info")(line);
  }

 private:
  bool lead_;
  int ranks_;
  std::atomic<bool>* interrupt_;
  PythonErrors* errors_;
  py::object logger_;
  double next_log_ = 1.0;
};

// A read-only numpy view of `table`'s rows (their padding left out), kept
// alive by `owner`.
py::array TableView(const Table& table, py::handle owner) {
  py::array view(py::dtype::of<float>(),
                 {static_cast<py::ssize_t>(table.rows()), static_cast<py::ssize_t>(table.dim())},
                 {static_cast<py::ssize_t>(table.stride() * sizeof(float)),
                  static_cast<py::ssize_t>(sizeof(float))},
                 table.data(), owner);
  view.attr("setflags")(py::arg("write") = false);
  return view;
}

// Trains word2vec on `s.inputs`; returns (KeyedVectorsCore, the output
// weights' table as an array, the summary dict). Under MPI every rank
// calls it; rank 0's result holds the vectors, the others' none.
py::tuple TrainWord2Vec(const Word2VecSettings& s) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<Cluster> cluster_ref = ProcessCluster();
  Cluster& cluster = *cluster_ref;
  const int ranks = cluster.ranks();
  const bool lead = cluster.rank() == 0;

  word2vec::TrainerOptions options;
  options.model = s.cbow ? word2vec::Architecture::kCbow : word2vec::Architecture::kSkipGram;
  options.dim = s.dim;
  options.window = s.window;
  // With hierarchical softmax the engine draws no negatives; the CLI leaves
  // --negative at its default then, and so does this.
  options.negative = s.hierarchical_softmax ? 5 : s.negative;
  options.sample = s.sample;
  options.epochs = s.epochs;
  options.threads = s.threads > 0 ? s.threads : std::max(1u, std::thread::hardware_concurrency());
  options.alpha = s.alpha > 0 ? s.alpha : (s.cbow ? 0.05f : 0.025f);
  options.min_alpha = s.min_alpha;
  options.seed = s.seed;
  options.hierarchical_softmax = s.hierarchical_softmax;
  options.shared_negatives = !s.hierarchical_softmax;  // The CLI's --kernel batched.
  std::atomic<bool> interrupt{false};
  options.interrupt = &interrupt;

  PythonErrors errors;
  std::unique_ptr<word2vec::Vocabulary> vocab;
  std::unique_ptr<Model> model;
  Result<word2vec::TrainStats> stats = Status::OK();
  Status status;
  {
    ProgressReporter report(lead, ranks, &interrupt, &errors);
    py::gil_scoped_release release;
    // As the CLI: every rank lists the same partitions, one per worker.
    PartitionOptions popts;
    popts.target_partitions = options.threads * static_cast<size_t>(ranks);
    Result<std::vector<PartitionSpec>> parts = ListPartitions(s.inputs, popts);
    status = Agree(cluster, parts.status());
    word2vec::VocabularyOptions vopts;
    vopts.min_count = s.min_count;
    vopts.max_entries = s.max_entries;
    vopts.threads = options.threads;
    Result<word2vec::Vocabulary> counted = Status::OK();
    if (status.ok()) {
      counted = CountVocabulary(cluster, *parts, vopts);
      status = counted.status();
    }
    if (status.ok() && counted->size() == 0) {
      status = Status::Corruption(s.inputs.front() + ": no word occurs at least " +
                                  std::to_string(s.min_count) + " times (min_count)");
    }
    if (status.ok()) {
      vocab = std::make_unique<word2vec::Vocabulary>(std::move(*counted));
      SetDefaultIntervals(ranks, vocab->train_words(), &options);
      word2vec::Trainer trainer(*vocab, options);
      LearningRate lr = trainer.Schedule();
      lr.linear_decay = true;
      std::unique_ptr<ParamStore> store =
          cluster.MakeStore(trainer.NewModel(), MakeDescent("sgd", lr));
      stats = trainer.Train(*parts, *store, std::ref(report));
      status = stats.status();
      if (status.ok()) {
        Result<Model> taken = store->TakeModel();
        status = taken.status();
        if (status.ok()) model = std::make_unique<Model>(std::move(*taken));
      }
    }
  }
  if (errors.has()) errors.Rethrow();
  ThrowIfError(status);

  // Totals over the ranks, as the CLI's summary has them.
  Result<word2vec::TrainStats> totals = Status::OK();
  {
    py::gil_scoped_release release;
    totals = word2vec::CombineRanks(cluster, *stats);
  }
  ThrowIfError(totals.status());
  const uint64_t words = totals->words;
  const std::vector<double>& epoch_loss = totals->epoch_loss;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  py::dict summary;
  summary["words"] = words;
  summary["seconds"] = seconds;
  summary["words_per_second"] = seconds > 0 ? static_cast<double>(words) / seconds : 0.0;
  summary["train_seconds"] = stats->seconds;
  summary["vocab_size"] = vocab->size();
  summary["corpus_words"] = vocab->corpus_words();
  summary["loss"] = epoch_loss.empty() ? 0.0 : epoch_loss.back();
  summary["epoch_loss"] = epoch_loss;
  summary["threads"] = options.threads;
  summary["ranks"] = ranks;
  summary["rank"] = cluster.rank();

  // Rank 0 holds the model; the other ranks' is empty.
  const bool has_model = model->num_tables() == 2;
  Table in = has_model ? std::move(model->table(0)) : Table("in", 0, s.dim);
  Table out = has_model ? std::move(model->table(1)) : Table("out", 0, s.dim);
  if (!has_model) {
    word2vec::VocabularyOptions none;
    none.min_count = 1;
    *vocab = word2vec::Vocabulary::FromCounts({}, 0, none);
  }
  auto core = std::make_shared<KeyedVectorsCore>(std::move(*vocab), std::move(in), true);
  auto out_table = std::make_shared<Table>(std::move(out));
  py::object out_owner = py::capsule(new std::shared_ptr<Table>(out_table), [](void* p) {
    delete static_cast<std::shared_ptr<Table>*>(p);
  });
  return py::make_tuple(core, TableView(*out_table, out_owner), summary);
}

py::list Neighbors(const std::vector<word2vec::Neighbor>& found) {
  py::list out;
  for (const word2vec::Neighbor& n : found) {
    out.append(py::make_tuple(n.word, static_cast<double>(n.score)));
  }
  return out;
}

}  // namespace

void BindWord2Vec(py::module_& m) {
  py::class_<Word2VecSettings>(m, "Word2VecSettings",
                               "Settings of train_word2vec, checked by deepdist.Word2Vec.")
      .def(py::init<>())
      .def_readwrite("inputs", &Word2VecSettings::inputs)
      .def_readwrite("cbow", &Word2VecSettings::cbow)
      .def_readwrite("dim", &Word2VecSettings::dim)
      .def_readwrite("window", &Word2VecSettings::window)
      .def_readwrite("negative", &Word2VecSettings::negative)
      .def_readwrite("hierarchical_softmax", &Word2VecSettings::hierarchical_softmax)
      .def_readwrite("sample", &Word2VecSettings::sample)
      .def_readwrite("min_count", &Word2VecSettings::min_count)
      .def_readwrite("max_entries", &Word2VecSettings::max_entries)
      .def_readwrite("epochs", &Word2VecSettings::epochs)
      .def_readwrite("threads", &Word2VecSettings::threads)
      .def_readwrite("alpha", &Word2VecSettings::alpha)
      .def_readwrite("min_alpha", &Word2VecSettings::min_alpha)
      .def_readwrite("seed", &Word2VecSettings::seed);

  m.def("train_word2vec", &TrainWord2Vec, py::arg("settings"),
        "Trains word2vec as `deepdist word2vec train` does; returns (KeyedVectorsCore, the "
        "output weights, a summary dict). The GIL is released while it trains.");

  py::class_<KeyedVectorsCore, std::shared_ptr<KeyedVectorsCore>>(
      m, "KeyedVectorsCore", "Word vectors held by the engine (see deepdist.KeyedVectors).")
      .def_static(
          "load",
          [](const std::string& path, size_t limit) {
            Result<std::shared_ptr<KeyedVectorsCore>> loaded = Status::OK();
            {
              py::gil_scoped_release release;
              loaded = KeyedVectorsCore::Load(path, limit);
            }
            return ValueOrThrow(std::move(loaded));
          },
          py::arg("path"), py::arg("limit") = 0)
      .def("__len__", &KeyedVectorsCore::size)
      .def_property_readonly("dim", &KeyedVectorsCore::dim)
      .def_property_readonly("with_counts", &KeyedVectorsCore::with_counts)
      .def("words",
           [](const KeyedVectorsCore& self) {
             py::list out(self.size());
             for (size_t i = 0; i < self.size(); ++i) out[i] = py::str(self.word(i));
             return out;
           })
      .def("counts",
           [](const KeyedVectorsCore& self) {
             py::array_t<uint64_t> out(static_cast<py::ssize_t>(self.size()));
             auto w = out.mutable_unchecked<1>();
             for (size_t i = 0; i < self.size(); ++i)
               w(static_cast<py::ssize_t>(i)) = self.count(i);
             return out;
           })
      .def("find", &KeyedVectorsCore::Find, py::arg("word"))
      .def("vectors",
           [](py::object self) { return TableView(self.cast<KeyedVectorsCore&>().table(), self); })
      .def("unit_vectors",
           [](py::object self) {
             const word2vec::Vectors* unit = nullptr;
             {
               const KeyedVectorsCore& core = self.cast<const KeyedVectorsCore&>();
               py::gil_scoped_release release;
               unit = &core.Unit();
             }
             py::array view(
                 py::dtype::of<float>(),
                 {static_cast<py::ssize_t>(unit->size()), static_cast<py::ssize_t>(unit->dim())},
                 {static_cast<py::ssize_t>(unit->dim() * sizeof(float)),
                  static_cast<py::ssize_t>(sizeof(float))},
                 unit->size() > 0 ? unit->row(0) : nullptr, self);
             view.attr("setflags")(py::arg("write") = false);
             return view;
           })
      .def(
          "most_similar",
          [](const KeyedVectorsCore& self, const std::vector<size_t>& positive,
             const std::vector<size_t>& negative, size_t topn, size_t limit) {
            std::vector<word2vec::Neighbor> found;
            {
              py::gil_scoped_release release;
              found = word2vec::MostSimilar(self.Unit(), positive, negative, topn, limit);
            }
            return Neighbors(found);
          },
          py::arg("positive"), py::arg("negative"), py::arg("topn"), py::arg("limit"))
      .def(
          "save",
          [](const KeyedVectorsCore& self, const std::string& path, bool binary,
             const std::string& vocab_path) {
            Status saved;
            {
              py::gil_scoped_release release;
              saved = self.Save(path, binary, vocab_path);
            }
            ThrowIfError(saved);
          },
          py::arg("path"), py::arg("binary"), py::arg("vocab_path") = "")
      .def(
          "evaluate_each",
          [](const KeyedVectorsCore& self, const std::string& path, size_t restrict) {
            Result<AnalogyOutcomes> outcomes = Status::OK();
            {
              py::gil_scoped_release release;
              outcomes = self.EvaluateEach(path, restrict,
                                           std::max(1u, std::thread::hardware_concurrency()));
            }
            const AnalogyOutcomes found = ValueOrThrow(std::move(outcomes));
            py::list questions;
            for (const QuestionOutcome& q : found.questions) {
              questions.append(
                  py::make_tuple(q.section, q.a, q.b, q.c, q.expected, static_cast<int>(q.kind)));
            }
            return py::make_tuple(found.sections, questions);
          },
          py::arg("path"), py::arg("restrict"),
          "Every question of an analogy file: (sections, [(section, a, b, c, expected, kind)]), "
          "kind 0 skipped, 1 incorrect, 2 correct.");
}

}  // namespace deepdist::python
