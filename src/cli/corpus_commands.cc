// deepdist corpus phrases: joins the word pairs of a text that occur together
// far more often than chance into single tokens ("new_york"), word2phrase's
// way, so that word2vec learns vectors for them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "src/cli/commands.h"
#include "src/corpus/phrases.h"

namespace deepdist::cli {
namespace {

struct PhrasesFlags {
  std::string input;
  std::string output;
  long long min_count = 5;
  double threshold = 100;
  long long passes = 2;
  long long threads = 0;  // 0: hardware threads.
  long long max_entries = corpus::kDefaultMaxEntries;
  bool json = false;
};

int RunPhrases(const PhrasesFlags& f) {
  corpus::PhraseOptions options;
  options.min_count = f.min_count;
  options.threshold = f.threshold;
  options.passes = f.passes;
  options.threads =
      f.threads != 0 ? f.threads : std::max<long long>(1, std::thread::hardware_concurrency());
  options.max_entries = f.max_entries;
  const auto start = std::chrono::steady_clock::now();
  Result<corpus::PhraseStats> stats = corpus::FindPhrases(options, f.input, f.output);
  if (!stats.ok()) return ReportError(stats.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t words = 0;
  for (const corpus::PassStats& p : stats->passes) words += p.words;
  const double words_per_second = seconds > 0 ? static_cast<double>(words) / seconds : 0.0;

  if (f.json) {
    nlohmann::json passes = nlohmann::json::array();
    for (const corpus::PassStats& p : stats->passes) {
      passes.push_back({{"words", p.words},
                        {"unique_words", p.unique_words},
                        {"unique_bigrams", p.unique_bigrams},
                        {"prune_threshold", p.prune_threshold},
                        {"phrases_joined", p.phrases_joined},
                        {"distinct_phrases", p.distinct_phrases},
                        {"seconds", p.seconds}});
    }
    nlohmann::json top = nlohmann::json::array();
    for (const corpus::Phrase& p : stats->top) {
      top.push_back(
          {{"phrase", p.text}, {"score", p.score}, {"count", p.count}, {"joined", p.joined}});
    }
    const nlohmann::json j = {{"input", f.input},
                              {"output", f.output},
                              {"min_count", options.min_count},
                              {"threshold", options.threshold},
                              {"threads", options.threads},
                              {"max_entries", options.max_entries},
                              {"passes", stats->passes.size()},
                              {"per_pass", passes},
                              {"top_phrases", top},
                              {"seconds", seconds},
                              {"words_per_second", words_per_second}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  for (size_t i = 0; i < stats->passes.size(); ++i) {
    const corpus::PassStats& p = stats->passes[i];
    std::printf(
        "pass %zu: %llu words, %zu distinct words, %zu distinct pairs%s; %llu pairs joined into "
        "%zu distinct phrases (%.1f s)\n",
        i + 1, static_cast<unsigned long long>(p.words), p.unique_words, p.unique_bigrams,
        p.prune_threshold > 0
            ? (", pruned at counts <= " + std::to_string(p.prune_threshold)).c_str()
            : "",
        static_cast<unsigned long long>(p.phrases_joined), p.distinct_phrases, p.seconds);
  }
  std::string best;
  for (const corpus::Phrase& p : stats->top) best += (best.empty() ? "" : ", ") + p.text;
  std::printf("best phrases: %s\n", best.empty() ? "none" : best.c_str());
  std::printf("wrote %s in %.1f s (%.0f words/s)\n", f.output.c_str(), seconds, words_per_second);
  return 0;
}

}  // namespace

void RegisterCorpus(CLI::App& app, Action& run) {
  CLI::App* corpus = app.add_subcommand("corpus", "Prepare text for word2vec.");
  corpus->require_subcommand(1);
  auto flags = std::make_shared<PhrasesFlags>();
  CLI::App* phrases = corpus->add_subcommand(
      "phrases", "Join word pairs seen together far more often than chance (word2phrase's score).");
  phrases->add_option("--input", flags->input, "Text file (a line is a sentence)")->required();
  phrases->add_option("--output", flags->output, "Where to write the text with phrases joined")
      ->required();
  phrases->add_option("--min-count", flags->min_count, "Words seen fewer times join no phrase")
      ->capture_default_str();
  phrases
      ->add_option("--threshold", flags->threshold,
                   "Join a pair when its score is above this (the same on every pass)")
      ->capture_default_str();
  phrases
      ->add_option("--passes", flags->passes,
                   "Passes (1 to 10), each over the text the one before wrote")
      ->capture_default_str();
  phrases->add_option("--threads", flags->threads, "Counting threads (default: hardware threads)");
  phrases
      ->add_option("--max-entries", flags->max_entries,
                   "Words and pairs counted at once, all threads together; past it the rarest "
                   "are pruned (45-70 bytes each)")
      ->capture_default_str();
  phrases->add_flag("--json", flags->json, "Print a JSON summary as the last line of stdout");
  phrases->callback([flags, &run] { run = [flags] { return RunPhrases(*flags); }; });
}

}  // namespace deepdist::cli
