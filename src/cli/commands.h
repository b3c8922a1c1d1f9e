// The commands of the deepdist binary. Each Register function adds its
// subcommand to the parser and, when that subcommand is chosen, sets `run` to
// the action main() calls after parsing. An action returns the exit code:
// 0 success, 1 a failure of the world (files, data), 2 a usage error.
#ifndef DEEPDIST_SRC_CLI_COMMANDS_H_
#define DEEPDIST_SRC_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "deepdist/cluster.h"
#include "deepdist/status.h"

namespace deepdist::cli {

using Action = std::function<int()>;

void RegisterWord2VecTrain(CLI::App& word2vec, Action& run);
void RegisterWord2VecEval(CLI::App& word2vec, Action& run);
// deepdist mlp train | predict.
void RegisterMlp(CLI::App& app, Action& run);

// Prints "deepdist: <message>" on stderr; returns 2 for invalid arguments
// and 1 otherwise.
int ReportError(const Status& status);
// Prints "deepdist: <message>" on stderr and returns 2.
int UsageError(const std::string& message);
// Ends a step that every rank takes, each with its own status: when any
// failed, the lowest failing rank prints its message and every rank returns
// that rank's exit code (so an error all ranks see is printed once); else 0.
int AgreeAcrossRanks(Cluster& cluster, const Status& status);
// deepdist logreg train | predict.
void RegisterLogreg(CLI::App& app, Action& run);
// deepdist corpus prepare and deepdist corpus phrases.
void RegisterCorpus(CLI::App& app, Action& run);

}  // namespace deepdist::cli

#endif  // DEEPDIST_SRC_CLI_COMMANDS_H_
