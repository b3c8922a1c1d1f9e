// deepdist: the command line. Parses the command and its flags and hands over
// to the command's action; all the work lives in the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "deepdist/cluster.h"
#include "src/cli/commands.h"

namespace deepdist::cli {

int ReportError(const Status& status) {
  std::fprintf(stderr, "deepdist: %s\n", status.message().c_str());
  return status.code() == Status::Code::kInvalidArgument ? 2 : 1;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "deepdist: %s\n", message.c_str());
  return 2;
}

int AgreeAcrossRanks(Cluster& cluster, const Status& status) {
  const char code = status.ok() ? 0 : (status.code() == Status::Code::kInvalidArgument ? 2 : 1);
  Result<std::vector<std::string>> codes = cluster.AllGather(std::string_view(&code, 1));
  if (!codes.ok()) return ReportError(codes.status());
  for (size_t r = 0; r < codes->size(); ++r) {
    const char c = (*codes)[r].empty() ? 1 : (*codes)[r][0];
    if (c == 0) continue;
    if (static_cast<int>(r) == cluster.rank()) ReportError(status);
    return c;
  }
  return 0;
}

namespace {

// CLI11 words its errors as sentences; rewrite the common ones in the
// "<flag>: <problem>" form, on one line.
std::string Describe(const CLI::ParseError& e) {
  std::string text = e.what();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  auto after = [&](const std::string& prefix) -> std::optional<std::string> {
    if (text.rfind(prefix, 0) != 0) return std::nullopt;
    return text.substr(prefix.size());
  };
  if (auto rest = after("Could not convert: ")) {  // "--epochs = abc"
    const size_t eq = rest->find(" = ");
    if (eq != std::string::npos) {
      return rest->substr(0, eq) + ": \"" + rest->substr(eq + 3) + "\" is not a valid value";
    }
  }
  // CLI11 says "argument was" for one and "arguments were" for several.
  auto unexpected = after("The following arguments were not expected: ");
  if (!unexpected) unexpected = after("The following argument was not expected: ");
  if (auto rest = unexpected) {
    std::istringstream words(*rest);
    std::string w, first;
    while (words >> w) {
      if (first.empty()) first = w;
      if (w.size() > 1 && w[0] == '-') return w + ": unknown flag";
    }
    return first + ": unexpected argument";
  }
  if (text.rfind("A subcommand is required", 0) == 0) {
    return "command: missing (see --help)";
  }
  // "--output is required", "--dim: At Most 1 required ...": flag first.
  if (!text.empty() && text[0] == '-') {
    const size_t end = text.find_first_of(": ");
    if (end != std::string::npos) {
      size_t rest = end;
      while (rest < text.size() && (text[rest] == ':' || text[rest] == ' ')) ++rest;
      return text.substr(0, end) + ": " + text.substr(rest);
    }
  }
  return text;
}

// The commands `app` has, "a, b or c".
std::string CommandNames(CLI::App& app) {
  std::vector<std::string> names;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : (i + 1 == names.size() ? " or " : ", ")) + names[i];
  }
  return out;
}

// When a command is required: the first word of the command line that names
// no command where one is due, or else which command is missing.
std::string MissingCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  std::string path = "deepdist";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!word.empty() && word[0] == '-') break;
    std::vector<CLI::App*> match =
        at->get_subcommands([&](CLI::App* sub) { return sub->get_name() == word; });
    if (match.empty()) {
      return word + ": unknown command (" + path + " takes " + CommandNames(*at) + ")";
    }
    at = match.front();
    path += " " + word;
  }
  return "command: missing (" + path + " takes " + CommandNames(*at) + "; see --help)";
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{
      "deepdist: asynchronous SGD against a model server; word2vec and an MLP on top of it."};
  app.set_version_flag("--version", "deepdist 0.1.0");
  app.require_subcommand(1);
  CLI::App* word2vec = app.add_subcommand("word2vec", "Train and evaluate word2vec embeddings.");
  word2vec->require_subcommand(1);
  Action run;
  RegisterWord2VecTrain(*word2vec, run);
  RegisterWord2VecEval(*word2vec, run);
  RegisterMlp(app, run);
  RegisterLogreg(app, run);
  RegisterCorpus(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Every rank of an MPI job parses the same command line: one message.
    if (LaunchedRank() != 0) return 2;
    if (std::string(e.what()).rfind("A subcommand is required", 0) == 0) {
      return UsageError(MissingCommand(app, argc, argv));
    }
    return UsageError(Describe(e));
  }
  if (!run) return UsageError("no command given (try --help)");
  try {
    return run();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "deepdist: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepdist: %s\n", e.what());
    return 1;
  }
}

}  // namespace deepdist::cli

int main(int argc, char** argv) {
  try {
    return deepdist::cli::Main(argc, argv);
  } catch (...) {  // Setting up the parser failed: nothing ran yet.
    std::fprintf(stderr, "deepdist: internal error while reading the command line\n");
    return 1;
  }
}
