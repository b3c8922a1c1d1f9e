#include "src/corpus/wiki_dump.h"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "deepdist/deepdist.h"
#include "src/core/atomic_file.h"
#include "src/corpus/wiki_markup.h"
#include "src/corpus/wiki_source.h"
#include "src/corpus/wiki_xml.h"

namespace deepdist::corpus {

namespace {

constexpr int64_t kMaxThreads = 4096;
// Articles go to the cleaning threads in batches of about this much
// wikitext: large enough that handing over costs nothing, small enough to
// keep every thread busy.
constexpr size_t kBatchBytes = size_t{1} << 20;

struct Batch {
  std::vector<std::string> texts;  // Wikitext, in the dump's order.
  size_t bytes = 0;
  // Set by the cleaning.
  std::string lines;
  uint64_t articles = 0;
  uint64_t empty = 0;
  uint64_t tokens = 0;
  bool done = false;
};

void Clean(const Text8Options& options, Batch* batch) {
  std::string line;
  for (std::string& text : batch->texts) {
    line.clear();
    const uint64_t words = AppendText8Words(StripWikiMarkup(text), options, &line);
    std::string().swap(text);
    if (words == 0) {
      ++batch->empty;
      continue;
    }
    batch->lines.append(line);
    batch->lines.push_back('\n');
    ++batch->articles;
    batch->tokens += words;
  }
  batch->texts.clear();
}

// Cleans batches on its threads in any order and gives them back in the
// order they came. With no threads, Add cleans the batch on the caller's.
// One thread calls Add and TakeOldest.
class BatchCleaner {
 public:
  BatchCleaner(int threads, Text8Options options) : options_(options) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Work(); });
  }

  ~BatchCleaner() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  BatchCleaner(const BatchCleaner&) = delete;
  BatchCleaner& operator=(const BatchCleaner&) = delete;

  void Add(std::unique_ptr<Batch> batch) {
    if (threads_.empty()) {
      Clean(options_, batch.get());
      batch->done = true;
      order_.push_back(std::move(batch));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    todo_.push_back(batch.get());
    order_.push_back(std::move(batch));
    cv_.notify_all();
  }

  size_t pending() const { return order_.size(); }

  // The oldest batch once cleaned: waiting for it when `wait`, else null
  // when it is not done. Null when there is none.
  std::unique_ptr<Batch> TakeOldest(bool wait) {
    if (order_.empty()) return nullptr;
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) cv_.wait(lock, [&] { return order_.front()->done; });
    if (!order_.front()->done) return nullptr;
    std::unique_ptr<Batch> batch = std::move(order_.front());
    order_.pop_front();
    return batch;
  }

 private:
  void Work() {
    for (;;) {
      Batch* batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !todo_.empty(); });
        if (stop_) return;
        batch = todo_.front();
        todo_.pop_front();
      }
      Clean(options_, batch);
      {
        std::lock_guard<std::mutex> lock(mu_);
        batch->done = true;
      }
      cv_.notify_all();
    }
  }

  const Text8Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<Batch*> todo_;                   // Not yet taken by a thread.
  std::deque<std::unique_ptr<Batch>> order_;  // Every batch not yet taken back.
  std::vector<std::thread> threads_;
};

}  // namespace

Status ValidatePrepareOptions(const PrepareOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return Status::InvalidArgument("--threads: must be between 1 and " +
                                   std::to_string(kMaxThreads));
  }
  return Status::OK();
}

Result<PrepareStats> PrepareCorpus(const std::string& input, const std::string& output,
                                   const PrepareOptions& options) {
  DD_RETURN_IF_ERROR(ValidatePrepareOptions(options));
  if (output.empty()) return Status::InvalidArgument("--output: is empty");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Result<DumpFile> file = InspectDump(input);
  if (!file.ok()) return file.status();
  AtomicFile out(output);
  DD_RETURN_IF_ERROR(out.Open());
  const int threads = static_cast<int>(options.threads);
  Result<std::unique_ptr<DumpSource>> opened =
      OpenDumpSource(*file, threads, options.bz2_chunk_bytes);
  if (!opened.ok()) return opened.status();
  DumpSource& source = **opened;
  const bool bz2 = file->format == DumpFormat::kBz2;
  WikiXmlParser parser(input, bz2);

  PrepareStats stats;
  stats.format = bz2 ? "bz2" : "xml";
  stats.input_bytes = file->size;
  stats.parallel_decompression = source.parallel();
  // The cleaning threads; the batches they have in hand at once are bounded.
  BatchCleaner cleaner(threads > 1 ? threads : 0, options.text8);
  const size_t max_pending = 2 * static_cast<size_t>(threads);
  std::FILE* stream = out.stream();
  Status written;  // A full disk is reported when it happens, not at the end.
  auto write = [&](const Batch& b) {
    if (std::fwrite(b.lines.data(), 1, b.lines.size(), stream) != b.lines.size() && written.ok()) {
      written = Status::IOError(output + ": write failed: " + std::strerror(errno));
    }
    stats.articles += b.articles;
    stats.empty_articles += b.empty;
    stats.tokens += b.tokens;
  };
  auto batch = std::make_unique<Batch>();
  auto submit = [&] {
    if (batch->texts.empty()) return;
    cleaner.Add(std::move(batch));
    batch = std::make_unique<Batch>();
    while (std::unique_ptr<Batch> b = cleaner.TakeOldest(cleaner.pending() > max_pending)) {
      write(*b);
    }
  };

  std::vector<WikiPage> pages;
  std::string piece;
  for (;;) {
    if (options.interrupt != nullptr && options.interrupt->load(std::memory_order_relaxed)) {
      return Status::Internal(kInterrupted);
    }
    DD_RETURN_IF_ERROR(source.Next(&piece));
    const bool last = piece.empty();
    if (last && parser.bytes() == 0) {
      return Status::Corruption(input + ": is empty (its bz2 data holds no XML)");
    }
    DD_RETURN_IF_ERROR(parser.Parse(piece, last, &pages));
    for (WikiPage& page : pages) {
      ++stats.pages;
      if (!page.main_namespace) {
        ++stats.other_namespaces;
      } else if (page.redirect) {
        ++stats.redirects;
      } else {
        if (page.truncated) ++stats.truncated_pages;
        batch->bytes += page.text.size();
        batch->texts.push_back(std::move(page.text));
        if (batch->bytes >= kBatchBytes) submit();
      }
    }
    pages.clear();
    DD_RETURN_IF_ERROR(written);
    stats.input_read = source.input_offset();
    stats.xml_bytes = parser.bytes();
    stats.bz2_streams = source.streams();
    stats.bz2_runs = source.runs();
    stats.seconds = elapsed();
    if (options.progress) options.progress(stats);
    if (last) break;
  }
  submit();
  while (std::unique_ptr<Batch> b = cleaner.TakeOldest(true)) write(*b);
  DD_RETURN_IF_ERROR(written);

  if (stats.pages == 0) {
    return Status::Corruption(input + ": has no <page> elements: not a MediaWiki XML dump");
  }
  if (stats.articles == 0) {
    return Status::Corruption(input + ": no article to write: of " + std::to_string(stats.pages) +
                              " pages, " + std::to_string(stats.redirects) + " are redirects, " +
                              std::to_string(stats.other_namespaces) +
                              " outside the main namespace and " +
                              std::to_string(stats.empty_articles) + " without words once cleaned");
  }
  DD_RETURN_IF_ERROR(out.Commit());
  stats.input_read = stats.input_bytes;
  stats.seconds = elapsed();
  return stats;
}

}  // namespace deepdist::corpus
