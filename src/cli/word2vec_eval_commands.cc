// deepdist word2vec analogy | similarity | similar | query: evaluate and
// explore trained vectors.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "deepdist/word2vec/evaluation.h"
#include "deepdist/word2vec/vectors.h"
#include "src/cli/commands.h"

namespace deepdist::cli {

namespace {

using word2vec::Vectors;

Result<Vectors> LoadUnit(const std::string& path) {
  Result<Vectors> v = Vectors::Load(path);
  if (v.ok()) v->Normalize();
  return v;
}

std::vector<std::string> SplitCommas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    std::stringstream ss(item);
    std::string w;
    while (std::getline(ss, w, ',')) {
      if (!w.empty()) out.push_back(w);
    }
  }
  return out;
}

// Rows of `words`; an unknown word is an error that names it and the file.
Result<std::vector<size_t>> Rows(const Vectors& v, const std::string& path,
                                 const std::vector<std::string>& words) {
  std::vector<size_t> rows;
  for (const std::string& w : words) {
    int64_t r = v.Find(w);
    if (r < 0) {
      const auto lower = v.LowercaseIndex(v.size());
      std::string l = w;
      for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto it = lower.find(l);
      if (it == lower.end()) return Status::NotFound(w + ": not in the vocabulary of " + path);
      r = static_cast<int64_t>(it->second);
    }
    rows.push_back(static_cast<size_t>(r));
  }
  return rows;
}

int PrintNeighbors(const std::vector<word2vec::Neighbor>& results, bool json) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& n : results) list.push_back({{"word", n.word}, {"score", n.score}});
    std::printf("%s\n", nlohmann::json{{"results", list}}.dump().c_str());
  } else {
    for (const auto& n : results) std::printf("%-24s %.4f\n", n.word.c_str(), n.score);
  }
  return 0;
}

struct EvalFlags {
  std::string vectors;
  std::string questions;
  std::string pairs;
  long long restrict = 30000;
  long long topn = 10;
  long long threads = 0;
  std::vector<std::string> words;
  std::vector<std::string> positive;
  std::vector<std::string> negative;
  bool json = false;
};

int RunAnalogy(const EvalFlags& f) {
  if (f.restrict < 0) return UsageError("--restrict: must not be negative");
  Result<word2vec::QuestionSet> questions = word2vec::ReadQuestions(f.questions);
  if (!questions.ok()) return ReportError(questions.status());
  Result<Vectors> v = LoadUnit(f.vectors);
  if (!v.ok()) return ReportError(v.status());
  const size_t threads = f.threads > 0 ? static_cast<size_t>(f.threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
  word2vec::AnalogyResult r =
      word2vec::EvaluateAnalogies(*v, *questions, static_cast<size_t>(f.restrict), threads);
  if (f.json) {
    nlohmann::json sections = nlohmann::json::array();
    for (const auto& s : r.sections) {
      sections.push_back({{"section", s.name}, {"correct", s.correct}, {"total", s.total}});
    }
    nlohmann::json j{{"accuracy", r.accuracy()},
                     {"correct", r.correct},
                     {"total", r.total},
                     {"skipped", r.skipped},
                     {"sections", sections}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& s : r.sections) {
      if (s.total == 0) continue;
      std::printf("%-28s %6.2f%%  (%zu/%zu)\n", s.name.c_str(), 100.0 * s.correct / s.total,
                  s.correct, s.total);
    }
    std::printf("%-28s %6.2f%%  (%zu/%zu), %zu skipped\n", "total", 100.0 * r.accuracy(), r.correct,
                r.total, r.skipped);
  }
  return 0;
}

int RunSimilarity(const EvalFlags& f) {
  Result<Vectors> v = LoadUnit(f.vectors);
  if (!v.ok()) return ReportError(v.status());
  Result<word2vec::SimilarityResult> r = word2vec::EvaluateSimilarity(*v, f.pairs);
  if (!r.ok()) return ReportError(r.status());
  if (f.json) {
    nlohmann::json j{{"spearman", r->spearman}, {"pairs", r->pairs}, {"skipped", r->skipped}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("spearman %.4f over %zu pairs, %zu skipped\n", r->spearman, r->pairs, r->skipped);
  }
  return 0;
}

int RunNeighbors(const EvalFlags& f, const std::vector<std::string>& positive,
                 const std::vector<std::string>& negative) {
  if (f.topn < 1) return UsageError("--topn: must be at least 1");
  if (positive.empty() && negative.empty()) return UsageError("--positive: give at least one word");
  Result<Vectors> v = LoadUnit(f.vectors);
  if (!v.ok()) return ReportError(v.status());
  Result<std::vector<size_t>> pos = Rows(*v, f.vectors, positive);
  if (!pos.ok()) return ReportError(pos.status());
  Result<std::vector<size_t>> neg = Rows(*v, f.vectors, negative);
  if (!neg.ok()) return ReportError(neg.status());
  return PrintNeighbors(word2vec::MostSimilar(*v, *pos, *neg, static_cast<size_t>(f.topn)), f.json);
}

}  // namespace

void RegisterWord2VecEval(CLI::App& word2vec, Action& run) {
  auto flags = std::make_shared<EvalFlags>();

  CLI::App* analogy = word2vec.add_subcommand(
      "analogy", "Word-analogy accuracy (3CosAdd, as gensim's evaluate_word_analogies).");
  analogy->add_option("--vectors", flags->vectors, "Vectors file (word2vec bin or text)")
      ->required();
  analogy
      ->add_option("--questions", flags->questions, "Questions file (questions-words.txt format)")
      ->required();
  analogy
      ->add_option("--restrict", flags->restrict, "Search only the most frequent N words (0: all)")
      ->capture_default_str();
  analogy->add_option("--threads", flags->threads, "Threads (default: hardware threads)");
  analogy->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  analogy->callback([flags, &run] { run = [flags] { return RunAnalogy(*flags); }; });

  CLI::App* similarity = word2vec.add_subcommand(
      "similarity", "Spearman correlation of cosines with human word-pair scores.");
  similarity->add_option("--vectors", flags->vectors, "Vectors file")->required();
  similarity->add_option("--pairs", flags->pairs, "\"word1 word2 score\" lines")->required();
  similarity->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  similarity->callback([flags, &run] { run = [flags] { return RunSimilarity(*flags); }; });

  CLI::App* similar = word2vec.add_subcommand("similar", "Nearest words by cosine.");
  similar->add_option("--vectors", flags->vectors, "Vectors file")->required();
  similar->add_option("words", flags->words, "Word(s): their mean is the query")->required();
  similar->add_option("--topn", flags->topn, "How many neighbours")->capture_default_str();
  similar->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  similar->callback(
      [flags, &run] { run = [flags] { return RunNeighbors(*flags, flags->words, {}); }; });

  CLI::App* query = word2vec.add_subcommand(
      "query", "Words nearest to positive minus negative words (king,woman - man).");
  query->add_option("--vectors", flags->vectors, "Vectors file")->required();
  query->add_option("--positive", flags->positive, "Comma-separated words to add");
  query->add_option("--negative", flags->negative, "Comma-separated words to subtract");
  query->add_option("--topn", flags->topn, "How many answers")->capture_default_str();
  query->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  query->callback([flags, &run] {
    run = [flags] {
      return RunNeighbors(*flags, SplitCommas(flags->positive), SplitCommas(flags->negative));
    };
  });
}

}  // namespace deepdist::cli
