// Transport figures of the MPI store, for docs/DISTRIBUTED.md.
//
//   mpirun -n N [--mca btl tcp,self | vader,self] mpi_store_bench [rows] [dim]
//       [batch] [iterations] [seconds]
//
// Latency: rank 0 pulls `batch` rows owned by other ranks, waits, pushes
// gradients to them and waits, `iterations` times, while the other ranks
// only serve; prints the mean, median and 99th percentile of one pull+push.
// Throughput: every rank (one worker thread) keeps 4 pull+push pairs of
// `batch` random rows in flight for `seconds`; prints rows moved per second
// (pulled plus pushed, all ranks) and payload bytes per second.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/store.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int Fail(deepdist::Cluster& cluster, const deepdist::Status& status) {
  std::fprintf(stderr, "deepdist: %s\n", status.message().c_str());
  cluster.Abort(1);
  return 1;  // Not reached.
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const size_t dim = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 300;
  const size_t batch = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 32;
  const int iterations = argc > 4 ? std::atoi(argv[4]) : 2000;
  const double seconds = argc > 5 ? std::atof(argv[5]) : 3.0;

  auto joined = deepdist::JoinCluster();
  if (!joined.ok()) {
    std::fprintf(stderr, "deepdist: %s\n", joined.status().message().c_str());
    return 1;
  }
  deepdist::Cluster& cluster = **joined;
  const int rank = cluster.rank();
  const int ranks = cluster.ranks();
  deepdist::Model model;
  model.AddTable("w", rows, dim);
  auto store = cluster.MakeStore(model, std::make_unique<deepdist::Sgd>());
  std::mt19937_64 rng(1234 + rank);
  std::vector<float> values(batch * dim, 0.001f);
  std::vector<deepdist::RowId> ids(batch);

  // Latency.
  if (rank == 0 && ranks > 1) {
    std::vector<double> micros;
    micros.reserve(iterations);
    for (int i = 0; i < iterations + 100; ++i) {
      for (auto& id : ids) {
        do {
          id = rng() % rows;
        } while (id % ranks == 0);  // Remote rows only.
      }
      const deepdist::RowBlock pull{0, ids, values.data(), 0};
      const deepdist::ConstRowBlock push{0, ids, values.data(), 0};
      const auto start = Clock::now();
      if (auto s = store->PullNow({&pull, 1}); !s.ok()) return Fail(cluster, s);
      if (auto s = store->PushNow({&push, 1}); !s.ok()) return Fail(cluster, s);
      if (i >= 100) micros.push_back(Seconds(Clock::now() - start) * 1e6);  // After warm-up.
    }
    std::sort(micros.begin(), micros.end());
    double mean = 0;
    for (double m : micros) mean += m / micros.size();
    std::printf("latency pull+push %zu x %zu: mean %.1f us, median %.1f us, p99 %.1f us\n", batch,
                dim, mean, micros[micros.size() / 2], micros[micros.size() * 99 / 100]);
  }
  if (auto s = store->Barrier(); !s.ok()) return Fail(cluster, s);

  // Throughput.
  constexpr int kWindow = 4;
  std::array<std::vector<float>, kWindow> buffers;
  std::array<std::vector<deepdist::RowId>, kWindow> slot_ids;
  std::array<std::array<deepdist::Ticket, 2>, kWindow> tickets{};
  std::array<bool, kWindow> busy{};
  for (int k = 0; k < kWindow; ++k) {
    buffers[k].assign(batch * dim, 0.001f);
    slot_ids[k].resize(batch);
  }
  const uint64_t bytes_before = cluster.bytes_sent();
  uint64_t pairs = 0;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int k = 0; Clock::now() < deadline; k = (k + 1) % kWindow) {
    if (busy[k]) {
      for (auto t : tickets[k]) {
        if (auto s = store->Wait(t); !s.ok()) return Fail(cluster, s);
      }
      ++pairs;
    }
    for (auto& id : slot_ids[k]) id = rng() % rows;
    const deepdist::RowBlock pull{0, slot_ids[k], buffers[k].data(), 0};
    const deepdist::ConstRowBlock push{0, slot_ids[k], values.data(), 0};
    tickets[k] = {store->Push({&push, 1}), store->Pull({&pull, 1})};
    busy[k] = true;
  }
  for (int k = 0; k < kWindow; ++k) {
    if (!busy[k]) continue;
    for (auto t : tickets[k]) {
      if (auto s = store->Wait(t); !s.ok()) return Fail(cluster, s);
    }
    ++pairs;
  }
  const double elapsed = Seconds(Clock::now() - start);
  const uint64_t bytes = cluster.bytes_sent() - bytes_before;
  if (auto s = store->Barrier(); !s.ok()) return Fail(cluster, s);
  auto all_pairs = cluster.Sum(pairs);
  auto all_bytes = cluster.Sum(bytes);
  if (!all_pairs.ok() || !all_bytes.ok()) return Fail(cluster, all_pairs.status());
  if (rank == 0) {
    const double rows_per_second = 2.0 * batch * all_pairs.value() / elapsed;
    std::printf("throughput %d ranks: %.0f rows/s (%.0f pull+push pairs/s), %.1f MB/s sent\n",
                ranks, rows_per_second, all_pairs.value() / elapsed,
                all_bytes.value() / elapsed / 1e6);
  }
  store.reset();
  return 0;
}
