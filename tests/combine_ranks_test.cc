// CombineRanks: the job's training stats from every rank's, as the CLI and
// the Python module report them under mpirun. The ranks here are threads,
// each with a cluster that gathers through shared memory.
#include <gtest/gtest.h>

#include <barrier>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/word2vec/trainer.h"

namespace deepdist::word2vec {
namespace {

// The ranks' shared table for AllGather: each writes its slot, then all read.
struct Exchange {
  explicit Exchange(int ranks) : slots(ranks), meet(ranks) {}
  std::vector<std::string> slots;
  std::barrier<> meet;
};

class ThreadCluster : public Cluster {
 public:
  ThreadCluster(Exchange& exchange, int rank) : exchange_(exchange), rank_(rank) {}
  int rank() const override { return rank_; }
  int ranks() const override { return static_cast<int>(exchange_.slots.size()); }
  Result<std::vector<std::string>> AllGather(std::string_view bytes) override {
    exchange_.slots[rank_] = std::string(bytes);
    exchange_.meet.arrive_and_wait();
    std::vector<std::string> all = exchange_.slots;
    exchange_.meet.arrive_and_wait();
    return all;
  }
  Result<uint64_t> Sum(uint64_t) override { return Status::Internal("not used here"); }
  Status Barrier() override { return Status::Internal("not used here"); }
  [[noreturn]] void Abort(int exit_code) override { std::exit(exit_code); }
  uint64_t bytes_sent() const override { return 0; }
  std::unique_ptr<ParamStore> MakeStore(Model, std::unique_ptr<Descent>) override {
    return nullptr;
  }

 private:
  Exchange& exchange_;
  int rank_;
};

TrainStats Stats(uint64_t words, std::vector<uint64_t> pairs, std::vector<double> loss_sums) {
  TrainStats stats;
  stats.words = words;
  stats.epoch_pairs = pairs;
  stats.epoch_loss_sum = loss_sums;
  for (size_t e = 0; e < pairs.size(); ++e)
    stats.epoch_loss.push_back(pairs[e] > 0 ? loss_sums[e] / static_cast<double>(pairs[e]) : 0.0);
  stats.loss = stats.epoch_loss.back();
  stats.first_epoch_loss = stats.epoch_loss.front();
  stats.seconds = 1.5;
  return stats;
}

std::vector<Result<TrainStats>> RunRanks(const std::vector<TrainStats>& per_rank) {
  Exchange exchange(static_cast<int>(per_rank.size()));
  std::vector<Result<TrainStats>> out(per_rank.size(), Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (size_t r = 0; r < per_rank.size(); ++r) {
    threads.emplace_back([&, r] {
      ThreadCluster cluster(exchange, static_cast<int>(r));
      out[r] = CombineRanks(cluster, per_rank[r]);
    });
  }
  for (std::thread& t : threads) t.join();
  return out;
}

TEST(CombineRanksTest, SumsWordsAndWeighsEachEpochsLossByPairs) {
  // Loss sums that are not short decimals, so that a lossy encoding shows.
  const std::vector<TrainStats> ranks = {
      Stats(1000, {300, 200}, {120.123456789012, 50.5}),
      Stats(2500, {100, 600}, {90.987654321098, 30.25}),
      Stats(7, {0, 1}, {0.0, 0.7}),
  };
  std::vector<Result<TrainStats>> combined = RunRanks(ranks);
  for (size_t r = 0; r < combined.size(); ++r) {
    ASSERT_TRUE(combined[r].ok()) << combined[r].status().ToString();
    const TrainStats& s = *combined[r];
    EXPECT_EQ(s.words, 3507u);
    EXPECT_EQ(s.epoch_pairs, (std::vector<uint64_t>{400, 801}));
    ASSERT_EQ(s.epoch_loss.size(), 2u);
    EXPECT_DOUBLE_EQ(s.epoch_loss[0], (120.123456789012 + 90.987654321098) / 400.0);
    EXPECT_DOUBLE_EQ(s.epoch_loss[1], (50.5 + 30.25 + 0.7) / 801.0);
    EXPECT_EQ(s.loss, s.epoch_loss[1]);
    EXPECT_EQ(s.first_epoch_loss, s.epoch_loss[0]);
    EXPECT_EQ(s.seconds, 1.5);  // This rank's clock, not a sum.
  }
}

TEST(CombineRanksTest, AClusterOfOneKeepsTheStats) {
  const TrainStats one = Stats(42, {10}, {3.0});
  std::vector<Result<TrainStats>> combined = RunRanks({one});
  ASSERT_TRUE(combined[0].ok());
  EXPECT_EQ(combined[0]->words, 42u);
  EXPECT_EQ(combined[0]->epoch_loss, one.epoch_loss);
}

TEST(CombineRanksTest, RanksThatDisagreeOnTheEpochsAreAnError) {
  std::vector<Result<TrainStats>> combined =
      RunRanks({Stats(10, {1, 1}, {1.0, 1.0}), Stats(10, {1}, {1.0})});
  for (const Result<TrainStats>& r : combined) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("do not match"), std::string::npos)
        << r.status().ToString();
  }
}

}  // namespace
}  // namespace deepdist::word2vec
