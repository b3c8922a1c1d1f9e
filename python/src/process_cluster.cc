#include "process_cluster.h"

#include <pybind11/pybind11.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <vector>

#include "errors.h"

namespace deepdist::python {
namespace {

struct State {
  std::shared_ptr<Cluster> cluster;
  bool left = false;
  std::set<ClusterUser*> users;
};

State& state() {
  // Never destroyed: the interpreter may tear modules down in any order.
  static State* s = new State;
  return *s;
}

}  // namespace

std::shared_ptr<Cluster> ProcessCluster() {
  State& s = state();
  if (s.cluster) return s.cluster;
  if (s.left) throw std::runtime_error("deepdist: the process has left its cluster (at exit)");
  ClusterOptions options;
  // The CLI's default under MPI (word2vec train without --wire).
  if (LaunchedByMpi()) options.wire = ClusterOptions::Wire::kInt4;
  s.cluster = std::shared_ptr<Cluster>(ValueOrThrow(JoinCluster(options)));
  return s.cluster;
}

void RegisterClusterUser(ClusterUser* user) { state().users.insert(user); }
void UnregisterClusterUser(ClusterUser* user) { state().users.erase(user); }

int JoinedRanks() { return state().cluster ? state().cluster->ranks() : 0; }

void AbortJob(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (state().cluster) state().cluster->Abort(exit_code);
  std::_Exit(exit_code);
}

void LeaveProcessCluster() {
  State& s = state();
  const std::vector<ClusterUser*> users(s.users.begin(), s.users.end());
  for (ClusterUser* user : users) user->CloseForExit();
  s.users.clear();
  s.left = true;
  // Stores are gone; MPI (when joined) is finalised here, every rank alike.
  pybind11::gil_scoped_release release;
  s.cluster.reset();
}

}  // namespace deepdist::python
