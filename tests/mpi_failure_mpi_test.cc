// A job in which one rank fails, for mpi_failure_test.sh: with "abort", rank 1
// reports an error and calls Cluster::Abort(1); with "kill", rank 1 raises
// SIGKILL on itself. Rank 0 meanwhile waits on rank 1 (a pull of a row that
// rank 1 owns, then a barrier) and would wait for ever: the job ends only if
// the failure ends every rank.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/store.h"

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "abort") != 0 && std::strcmp(argv[1], "kill") != 0)) {
    std::fprintf(stderr, "usage: mpi_failure_mpi_test abort|kill\n");
    return 2;
  }
  const bool kill = std::strcmp(argv[1], "kill") == 0;
  auto cluster = deepdist::JoinCluster();
  if (!cluster.ok() || (*cluster)->ranks() < 2) {
    std::fprintf(stderr, "deepdist: needs an MPI job of 2 ranks or more\n");
    return 2;
  }
  deepdist::Model model;
  model.AddTable("w", 8, 4);
  auto store = (*cluster)->MakeStore(model, std::make_unique<deepdist::Sgd>());
  if ((*cluster)->rank() == 1) {
    if (kill) std::raise(SIGKILL);
    std::fprintf(stderr, "deepdist: rank 1: injected failure\n");
    (*cluster)->Abort(1);
  }
  if ((*cluster)->rank() == 0) {
    // Row 1 lives at rank 1, which never answers.
    const deepdist::RowId id = 1;
    float row[4];
    const deepdist::RowBlock block{0, {&id, 1}, row, 0};
    for (;;) {
      if (!store->PullNow({&block, 1}).ok()) break;
      if (!store->Barrier().ok()) break;
    }
  } else {
    (void)store->Barrier();
  }
  std::fprintf(stderr, "mpi_failure_mpi_test: the job outlived its failed rank\n");
  return 0;
}
