// deepdist corpus phrases: joins the word pairs of a text that occur together
// far more often than chance into single tokens ("new_york"), word2phrase's
// way, so that word2vec learns vectors for them.
// deepdist corpus prepare: a MediaWiki XML dump into a corpus, one article a
// line by the text8 rules.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "src/cli/commands.h"
#include "src/cli/interrupt.h"
#include "src/corpus/phrases.h"
#include "src/corpus/wiki_dump.h"

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

struct PrepareFlags {
  std::string input;
  std::string output;
  long long threads = 0;  // 0: hardware threads.
  bool json = false;
  bool keep_case = false;
  bool keep_digits = false;
};

// MB are 10^6 bytes.
double MegabytesPerSecond(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

// "1234567" as "1,234,567".
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// The progress line on stderr, as the train commands draw theirs: redrawn
// in place about five times a second on a terminal, else a new line every
// five seconds.
//   "  42.1%  input 11.8 MB/s  xml 52.3 MB/s  pages 123,456  articles 45,678  eta 0:01:23"
class PrepareProgress {
 public:
  PrepareProgress() : tty_(isatty(fileno(stderr)) != 0) {}

  void Update(const corpus::PrepareStats& s) {
    const double interval = tty_ ? 0.2 : 5.0;
    if (s.seconds - last_ < interval) return;
    last_ = s.seconds;
    const double fraction =
        s.input_bytes > 0 ? static_cast<double>(s.input_read) / static_cast<double>(s.input_bytes)
                          : 0.0;
    const long eta = std::lround(fraction > 1e-6 ? s.seconds * (1.0 - fraction) / fraction : 0.0);
    char buf[200];
    std::snprintf(buf, sizeof(buf),
                  "%6.1f%%  input %.1f MB/s  xml %.1f MB/s  pages %s  articles %s  eta "
                  "%ld:%02ld:%02ld",
                  100.0 * fraction, MegabytesPerSecond(s.input_read, s.seconds),
                  MegabytesPerSecond(s.xml_bytes, s.seconds), Grouped(s.pages).c_str(),
                  Grouped(s.articles).c_str(), eta / 3600, (eta / 60) % 60, eta % 60);
    if (tty_) {
      std::fprintf(stderr, "\r%s\x1b[K", buf);
      drawn_ = true;
    } else {
      std::fprintf(stderr, "%s\n", buf);
    }
    std::fflush(stderr);
  }

  void Finish() {
    if (drawn_) {
      std::fputc('\n', stderr);
      std::fflush(stderr);
    }
    drawn_ = false;
  }

 private:
  bool tty_;
  double last_ = 0;  // The first line after a few seconds, not at once.
  bool drawn_ = false;
};

int RunPrepare(const PrepareFlags& f) {
  corpus::PrepareOptions options;
  options.threads =
      f.threads != 0 ? f.threads : std::max<long long>(1, std::thread::hardware_concurrency());
  options.text8.keep_case = f.keep_case;
  options.text8.keep_digits = f.keep_digits;
  PrepareProgress progress;
  options.progress = [&progress](const corpus::PrepareStats& s) { progress.Update(s); };
  const Interrupts interrupts;  // SIGINT, SIGTERM: the run stops, nothing is written.
  options.interrupt = Interrupts::flag();
  Result<corpus::PrepareStats> stats = corpus::PrepareCorpus(f.input, f.output, options);
  progress.Finish();
  if (!stats.ok()) {
    if (stats.status().message() == kInterrupted) {
      Result<std::unique_ptr<Cluster>> joined = JoinCluster();
      if (!joined.ok()) return ReportError(joined.status());
      return Interrupts::Stop(**joined, f.output, stats.status());
    }
    return ReportError(stats.status());
  }
  const corpus::PrepareStats& s = *stats;
  const double input_rate = MegabytesPerSecond(s.input_bytes, s.seconds);
  const double xml_rate = MegabytesPerSecond(s.xml_bytes, s.seconds);
  const double pages_per_second = s.seconds > 0 ? static_cast<double>(s.pages) / s.seconds : 0.0;
  if (f.json) {
    const nlohmann::json j = {{"input", f.input},
                              {"output", f.output},
                              {"format", s.format},
                              {"threads", options.threads},
                              {"parallel_decompression", s.parallel_decompression},
                              {"bz2_streams", s.bz2_streams},
                              {"bz2_runs", s.bz2_runs},
                              {"keep_case", f.keep_case},
                              {"keep_digits", f.keep_digits},
                              {"input_bytes", s.input_bytes},
                              {"xml_bytes", s.xml_bytes},
                              {"pages", s.pages},
                              {"articles", s.articles},
                              {"redirects", s.redirects},
                              {"other_namespaces", s.other_namespaces},
                              {"empty_articles", s.empty_articles},
                              {"truncated_pages", s.truncated_pages},
                              {"tokens", s.tokens},
                              {"seconds", s.seconds},
                              {"input_mb_per_second", input_rate},
                              {"xml_mb_per_second", xml_rate},
                              {"pages_per_second", pages_per_second}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf(
      "read %s pages: %s articles written; skipped %s redirects, %s pages outside the main "
      "namespace and %s articles with no words\n",
      Grouped(s.pages).c_str(), Grouped(s.articles).c_str(), Grouped(s.redirects).c_str(),
      Grouped(s.other_namespaces).c_str(), Grouped(s.empty_articles).c_str());
  if (s.truncated_pages > 0) {
    std::printf("%s articles were cut at 64 MiB of wikitext\n", Grouped(s.truncated_pages).c_str());
  }
  std::printf("wrote %s: %s words in %.1f s (input %.1f MB/s, xml %.1f MB/s, %s pages/s)\n",
              f.output.c_str(), Grouped(s.tokens).c_str(), s.seconds, input_rate, xml_rate,
              Grouped(static_cast<uint64_t>(std::llround(pages_per_second))).c_str());
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

  auto prep = std::make_shared<PrepareFlags>();
  CLI::App* prepare = corpus->add_subcommand(
      "prepare",
      "Turn a MediaWiki XML dump (.xml or .xml.bz2) into a corpus: one article a line, text8 "
      "rules.");
  prepare->add_option("--input", prep->input, "MediaWiki XML dump, .xml or .xml.bz2")->required();
  prepare->add_option("--output", prep->output, "Where to write the text")->required();
  prepare->add_option("--threads", prep->threads,
                      "Threads decompressing (multistream .bz2) and cleaning (default: hardware "
                      "threads)");
  prepare->add_flag("--keep-case", prep->keep_case, "Keep upper-case letters (default: lowercase)");
  prepare->add_flag("--keep-digits", prep->keep_digits,
                    "Keep digits as digits (default: spelled out, 1 -> one)");
  prepare->add_flag("--json", prep->json, "Print a JSON summary as the last line of stdout");
  prepare->callback([prep, &run] { run = [prep] { return RunPrepare(*prep); }; });
}

}  // namespace deepdist::cli
