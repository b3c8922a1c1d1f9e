#include "src/store/local_cluster.h"

#include <cstdio>
#include <cstdlib>

namespace deepdist {

Result<std::vector<std::string>> LocalCluster::AllGather(std::string_view bytes) {
  return std::vector<std::string>{std::string(bytes)};
}

void LocalCluster::Abort(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(exit_code);
}

std::unique_ptr<ParamStore> LocalCluster::MakeStore(Model model, std::unique_ptr<Descent> descent) {
  return std::make_unique<LocalStore>(std::move(model), std::move(descent));
}

}  // namespace deepdist
