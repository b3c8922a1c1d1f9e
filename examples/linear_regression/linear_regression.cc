// A custom model on the DeepDist API: linear regression, its gradient (run on
// the workers) and its descent (plain SGD at rate 0.05, run where the rows
// live) written here.
// Each line of the data is "y x1 x2 ... xn"; the model is one table "w" of one
// row, the weights followed by the bias.   linear_regression DATA N [sync]
// The same binary trains distributed under mpirun: every rank runs these
// lines, trains its share of the partitions, and rank 0 prints the weights.
#include <cstdio>
#include <cstdlib>
#include <span>
#include <sstream>
#include <string>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    return std::fprintf(stderr, "usage: linear_regression DATA N [sync]\n"), 2;
  }
  using namespace deepdist;
  const size_t n = static_cast<size_t>(std::atoi(argv[2]));
  const bool sync = argc == 4 && std::string(argv[3]) == "sync";
  auto cluster = JoinCluster();  // One process unless started by mpirun.
  if (!cluster.ok()) return std::fprintf(stderr, "%s\n", cluster.status().message().c_str()), 1;
  auto parts = ListPartitions({argv[1]}, {.target_partitions = 16, .split_on = SplitOn::kLines});
  if (!parts.ok()) return std::fprintf(stderr, "%s\n", parts.status().message().c_str()), 1;

  Model model;
  const size_t w = model.AddTable("w", 1, n + 1);
  DeepDist dd(std::move(model), {.threads = 2,
                                 .mode = sync ? Mode::kSync : Mode::kAsync,
                                 .epochs = sync ? 200u : 20u,
                                 .cluster = cluster->get()});
  Status status = dd.train(
      *parts,
      [&](const Model& replica, Partition& data) {  // Runs on the workers.
        std::vector<double> grad(n + 1, 0.0);
        size_t rows = 0;
        const float* weights = replica.table(w).row(0);
        Status read = data.ForEachLine([&](std::string_view line) {
          std::istringstream in{std::string(line)};
          double y, x, prediction = weights[n];
          std::vector<double> xs;
          if (!(in >> y)) return;
          while (in >> x) xs.push_back(x);
          if (xs.size() != n) return;
          for (size_t i = 0; i < n; ++i) prediction += weights[i] * xs[i];
          const double error = prediction - y;
          for (size_t i = 0; i < n; ++i) grad[i] += error * xs[i];
          grad[n] += error;
          ++rows;
        });
        Update update;
        if (!read.ok() || rows == 0) return update;
        std::vector<float> mean(n + 1);
        for (size_t i = 0; i <= n; ++i) mean[i] = static_cast<float>(grad[i] / rows);
        update.Add(w, n + 1, 0, mean.data());
        return update;
      },
      [](std::span<float> row, std::span<const float> gradient, float) {  // On the server.
        for (size_t i = 0; i < row.size(); ++i) row[i] -= 0.05f * gradient[i];
      });
  if (!status.ok()) return std::fprintf(stderr, "%s\n", status.message().c_str()), 1;
  if ((*cluster)->rank() != 0) return 0;  // Rank 0 holds the trained model.
  const float* learned = dd.model().table(w).row(0);
  for (size_t i = 0; i <= n; ++i)
    std::printf(i < n ? "w%zu = %.4f\n" : "bias = %.4f\n", i, learned[i]);
  return 0;
}
