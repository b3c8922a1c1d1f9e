// MpiStore under mpiexec (2 or more ranks): the same answers as LocalStore,
// sharding, the fp16 wire, rounds, tasks, progress, Snapshot and bytes_sent.
//
// Every rank runs every test in the same order, so the collectives inside
// (store creation, Barrier, Snapshot, rounds) meet. Assertions never return
// early before a collective; rank 0 prints gtest's output, the other ranks
// print only their failures, and every rank exits with the same status.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/store.h"
#include "src/store/mpi_cluster.h"
#include "src/store/wire.h"

namespace deepdist {
namespace {

Cluster* g_cluster = nullptr;

// Deterministic values, multiples of 1/16 in [-0.5, 0.5]: sums of a few of
// them are exact, so the order of summation does not matter where it may vary.
Model MakeModel() {
  Model model;
  const std::pair<const char*, std::pair<size_t, size_t>> shapes[] = {
      {"in", {11, 5}}, {"out", {7, 20}}, {"tiny", {1, 3}}};
  for (const auto& [name, shape] : shapes) {
    const size_t t = model.AddTable(name, shape.first, shape.second);
    Table& table = model.table(t);
    for (size_t r = 0; r < table.rows(); ++r) {
      for (size_t c = 0; c < table.dim(); ++c) {
        table.row(r)[c] = static_cast<float>((r * 31 + c * 7 + t * 3) % 17) * 0.0625f - 0.5f;
      }
    }
  }
  return model;
}

std::unique_ptr<Descent> MakeRule(const std::string& name, float alpha = 0.1f) {
  const LearningRate lr{alpha, false, 1e-4f};
  if (name == "sgd") return std::make_unique<Sgd>(lr);
  if (name == "momentum") return std::make_unique<Sgd>(lr, 0.9f);
  if (name == "adam") return std::make_unique<Adam>(lr);
  return std::make_unique<AdaGrad>(lr);
}

class MpiStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_cluster->ranks() < 2) GTEST_SKIP() << "run under mpiexec with 2 or more ranks";
  }
  int rank() const { return g_cluster->rank(); }
  int ranks() const { return g_cluster->ranks(); }
  std::unique_ptr<ParamStore> Make(Model model, std::unique_ptr<Descent> rule,
                                   ClusterOptions::Wire wire = ClusterOptions::Wire::kFp32) {
    auto* mpi = dynamic_cast<MpiCluster*>(g_cluster);
    EXPECT_NE(mpi, nullptr);
    return mpi->MakeStore(std::move(model), std::move(rule), wire);
  }
};

// Compares two tables value by value, stopping after a few differences.
void ExpectTablesEqual(const Table& want, const Table& got) {
  ASSERT_EQ(want.rows(), got.rows());
  ASSERT_EQ(want.dim(), got.dim());
  int bad = 0;
  for (size_t r = 0; r < want.rows(); ++r) {
    for (size_t c = 0; c < want.dim(); ++c) {
      EXPECT_EQ(want.row(r)[c], got.row(r)[c]) << want.name() << " row " << r << " col " << c;
      if (want.row(r)[c] != got.row(r)[c] && ++bad >= 5) return;
    }
  }
}

void ExpectModelsEqual(const Model& want, const Model& got) {
  ASSERT_EQ(want.num_tables(), got.num_tables());
  for (size_t t = 0; t < want.num_tables(); ++t) ExpectTablesEqual(want.table(t), got.table(t));
}

float RoundToHalf(float v) { return static_cast<float>(static_cast<_Float16>(v)); }

TEST(WireTest, HalfConversionMatchesTheCompiler) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const _Float16 reference = std::bit_cast<_Float16>(static_cast<uint16_t>(h));
    if (f != f) {
      EXPECT_NE(FloatToHalf(f) & 0x3ffu, 0u);  // Still a NaN.
      continue;
    }
    ASSERT_EQ(f, static_cast<float>(reference)) << h;
    ASSERT_EQ(FloatToHalf(f), h) << h;
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  int tested = 0;
  while (tested < 2000000) {
    const float f = std::bit_cast<float>(bits(rng));
    if (f != f) continue;
    ++tested;
    const uint16_t want = std::bit_cast<uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(FloatToHalf(f), want) << f;
  }
  // Ties and edges: 65504 (max), 65519.99 and 65520 (the cut to infinity),
  // 2^-24 (smallest subnormal), 2^-25 (a tie that rounds to zero).
  for (float f : {65504.0f, 65519.99f, 65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f,
                  0x1.ffcp-15f, 1.00048828125f, -1.00146484375f}) {
    EXPECT_EQ(FloatToHalf(f), std::bit_cast<uint16_t>(static_cast<_Float16>(f))) << f;
  }
}

// The quantized rows of the int8 and int4 wires, against a plain reference
// in double precision: e is the smallest exponent with max |x| <= L * 2^e,
// each value round(x / 2^e) (ties to even) times 2^e; encoding then decoding
// gives exactly RoundQuantizedRow, which is idempotent and within half a
// step of the input.
TEST(WireTest, QuantizedRowsMatchAPlainReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int bits : {8, 4}) {
    const double limit = (1 << (bits - 1)) - 1;
    for (size_t dim : {size_t{1}, size_t{3}, size_t{100}, size_t{257}, size_t{600}}) {
      for (float magnitude : {0.0f, 1e-30f, 1e-3f, 0.5f, 7.0f, 1e20f}) {
        SCOPED_TRACE(testing::Message() << bits << " bits, dim " << dim << ", x " << magnitude);
        std::vector<float> x(dim);
        for (float& v : x) v = normal(rng) * magnitude;
        if (dim > 2)
          x[1] = limit * std::ldexp(1.0f, -3) * (magnitude > 0 ? 1.0f : 0.0f);  // Exactly L * 2^-3.
        double max = 0;
        for (float v : x) max = std::max(max, std::fabs(static_cast<double>(v)));
        int e = -126;
        while (e < 127 && max > limit * std::ldexp(1.0, e)) ++e;
        std::vector<float> want(dim);
        for (size_t k = 0; k < dim; ++k) {
          const double q = std::clamp(std::nearbyint(x[k] / std::ldexp(1.0, e)), -limit, limit);
          want[k] = static_cast<float>(q * std::ldexp(1.0, e));
          ASSERT_LE(std::fabs(want[k] - static_cast<double>(x[k])), std::ldexp(1.0, e - 1));
        }
        std::string bytes(QuantizedRowBytes(dim, bits), '\0');
        ASSERT_EQ(bytes.size(), 1 + (dim * static_cast<size_t>(bits) + 7) / 8);
        EncodeQuantizedRow(x.data(), dim, bits, bytes.data());
        std::vector<float> decoded(dim);
        DecodeQuantizedRow(bytes.data(), dim, bits, decoded.data());
        EXPECT_EQ(decoded, want);
        std::vector<float> rounded = x;
        RoundQuantizedRow(rounded.data(), dim, bits);
        EXPECT_EQ(rounded, want);
        std::vector<float> again = rounded;
        RoundQuantizedRow(again.data(), dim, bits);
        EXPECT_EQ(again, rounded);
      }
    }
    // A non-finite value goes as 0; the others keep the finite values' scale.
    std::vector<float> x = {0.5f, std::numeric_limits<float>::quiet_NaN(), -0.25f,
                            std::numeric_limits<float>::infinity()};
    RoundQuantizedRow(x.data(), x.size(), bits);
    EXPECT_EQ(x, (std::vector<float>{0.5f, 0.0f, -0.25f, 0.0f}));
  }
}

// EncodeDifference quantizes value - base and moves base by exactly what it
// sent, RoundDifference gives the same rounded difference as floats;
// AddQuantizedRow adds a decoded row to two rows at once. Checked
// against the plain steps (a float difference, RoundQuantizedRow, one float
// addition per value) over the shapes the vector loops split differently.
TEST(WireTest, DifferencesAndAddedRowsMatchThePlainSteps) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (int bits : {8, 4}) {
    for (size_t dim : {size_t{1}, size_t{2}, size_t{7}, size_t{33}, size_t{100}, size_t{301}}) {
      SCOPED_TRACE(testing::Message() << bits << " bits, dim " << dim);
      std::vector<float> value(dim), base(dim);
      for (size_t k = 0; k < dim; ++k) {
        base[k] = normal(rng);
        value[k] = base[k] + 0.01f * normal(rng);
      }
      std::vector<float> diff(dim);
      for (size_t k = 0; k < dim; ++k) diff[k] = value[k] - base[k];
      std::vector<float> want = diff;
      RoundQuantizedRow(want.data(), dim, bits);
      std::vector<float> moved = base;
      for (size_t k = 0; k < dim; ++k) moved[k] += want[k];

      std::string bytes(QuantizedRowBytes(dim, bits), '\0');
      std::vector<float> got_base = base;
      EncodeDifference(value.data(), got_base.data(), dim, bits, bytes.data());
      EXPECT_EQ(got_base, moved);
      std::vector<float> decoded(dim);
      DecodeQuantizedRow(bytes.data(), dim, bits, decoded.data());
      EXPECT_EQ(decoded, want);

      std::vector<float> change(dim), rounded_base = base;
      RoundDifference(value.data(), rounded_base.data(), dim, bits, change.data());
      EXPECT_EQ(change, want);
      EXPECT_EQ(rounded_base, moved);

      std::vector<float> a = value, b = base;
      AddQuantizedRow(bytes.data(), dim, bits, a.data(), b.data());
      for (size_t k = 0; k < dim; ++k) {
        ASSERT_EQ(a[k], value[k] + want[k]) << k;
        ASSERT_EQ(b[k], base[k] + want[k]) << k;
      }
      // An odd dim's last int4 byte carries no high nibble.
      if (bits == 4 && dim % 2 == 1) EXPECT_EQ(static_cast<unsigned char>(bytes.back()) >> 4, 0u);
    }
  }
  // A non-finite difference goes as 0, and base moves by the rest only.
  std::vector<float> value = {1.0f, std::numeric_limits<float>::infinity(), 0.5f};
  std::vector<float> base = {0.5f, 0.0f, 0.5f};
  std::string bytes(QuantizedRowBytes(3, 4), '\0');
  EncodeDifference(value.data(), base.data(), 3, 4, bytes.data());
  EXPECT_EQ(base, (std::vector<float>{1.0f, 0.0f, 0.5f}));
}

// The codec's vector paths agree bit for bit on every SIMD target this CPU
// runs (each against the plainest one, which the tests above check against
// the reference), at dims that leave every kind of tail.
TEST(WireTest, EveryTargetGivesTheSameRows) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  struct Case {
    int bits;
    size_t dim;
    std::vector<float> value, base;
  };
  std::vector<Case> cases;
  for (int bits : {8, 4}) {
    for (size_t dim : {size_t{1}, size_t{5}, size_t{16}, size_t{33}, size_t{100}, size_t{301}}) {
      Case c{bits, dim, std::vector<float>(dim), std::vector<float>(dim)};
      for (size_t k = 0; k < dim; ++k) {
        c.base[k] = normal(rng);
        c.value[k] = c.base[k] + 0.05f * normal(rng);
      }
      cases.push_back(std::move(c));
    }
  }
  // Per case: the encoded row, its decoding, the rounded row, the encoded
  // difference and the base it leaves.
  using Results = std::vector<std::tuple<std::string, std::vector<float>, std::vector<float>,
                                         std::string, std::vector<float>>>;
  auto run = [&] {
    Results results;
    for (const Case& c : cases) {
      std::string row(QuantizedRowBytes(c.dim, c.bits), '\0');
      EncodeQuantizedRow(c.value.data(), c.dim, c.bits, row.data());
      std::vector<float> decoded(c.dim);
      DecodeQuantizedRow(row.data(), c.dim, c.bits, decoded.data());
      std::vector<float> rounded = c.value;
      RoundQuantizedRow(rounded.data(), c.dim, c.bits);
      std::string diff(row.size(), '\0');
      std::vector<float> base = c.base;
      EncodeDifference(c.value.data(), base.data(), c.dim, c.bits, diff.data());
      results.emplace_back(row, decoded, rounded, diff, base);
    }
    return results;
  };
  hwy::SetSupportedTargetsForTest(targets.back());
  const Results want = run();
  for (int64_t target : targets) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    const Results got = run();
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(testing::Message() << cases[i].bits << " bits, dim " << cases[i].dim);
      EXPECT_EQ(std::get<0>(got[i]), std::get<0>(want[i]));
      EXPECT_EQ(std::get<1>(got[i]), std::get<1>(want[i]));
      EXPECT_EQ(std::get<2>(got[i]), std::get<2>(want[i]));
      EXPECT_EQ(std::get<3>(got[i]), std::get<3>(want[i]));
      EXPECT_EQ(std::get<4>(got[i]), std::get<4>(want[i]));
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// A plain reference store: the whole model in one place; a push sums the
// values of rows it names more than once (in the order named) and applies
// each sum once with the rule, at the rule's rate.
class ReferenceStore {
 public:
  ReferenceStore(Model model, std::unique_ptr<Descent> rule)
      : model_(std::move(model)), rule_(std::move(rule)) {
    for (size_t t = 0; t < model_.num_tables(); ++t) {
      const Table& table = model_.table(t);
      state_.emplace_back(table.rows() * rule_->state_floats(table.dim()), 0.0f);
    }
  }
  void Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) {
    std::vector<std::map<RowId, std::vector<float>>> sums(model_.num_tables());
    std::vector<std::vector<RowId>> order(model_.num_tables());
    for (const ConstRowBlock& b : blocks) {
      const size_t dim = model_.table(b.table).dim();
      const size_t stride = b.stride == 0 ? dim : b.stride;
      for (size_t i = 0; i < b.ids.size(); ++i) {
        const float* v = b.values + i * stride;
        auto [it, inserted] = sums[b.table].try_emplace(b.ids[i], v, v + dim);
        if (inserted) {
          order[b.table].push_back(b.ids[i]);
        } else {
          for (size_t k = 0; k < dim; ++k) it->second[k] += v[k];
        }
      }
    }
    const float lr = rule_->learning_rate();
    for (size_t t = 0; t < model_.num_tables(); ++t) {
      Table& table = model_.table(t);
      const size_t per_row = rule_->state_floats(table.dim());
      for (RowId id : order[t]) {
        float* state = per_row > 0 ? state_[t].data() + id * per_row : nullptr;
        if (options.kind == PushOptions::Kind::kDelta) {
          rule_->ApplyDelta(table.row(id), state, sums[t][id].data(), table.dim(), options.rate,
                            lr);
        } else {
          rule_->ApplyRow(table.row(id), state, sums[t][id].data(), table.dim(), lr);
        }
      }
    }
  }
  void Pull(std::span<const RowBlock> blocks) const {
    for (const RowBlock& b : blocks) {
      const Table& table = model_.table(b.table);
      const size_t stride = b.stride == 0 ? table.dim() : b.stride;
      for (size_t i = 0; i < b.ids.size(); ++i) {
        std::memcpy(b.values + i * stride, table.row(b.ids[i]), table.dim() * sizeof(float));
      }
    }
  }
  const Model& model() const { return model_; }

 private:
  Model model_;
  std::unique_ptr<Descent> rule_;
  std::vector<std::vector<float>> state_;
};

// (a) The same sequence of pulls and pushes, issued by rank 0 while the other
// ranks wait at a barrier, leaves MpiStore with the same model as LocalStore
// (pushes without repeated rows) or as the reference above (pushes that name
// rows more than once), exactly: the same rule runs on the same values in the
// same order.
class ParityTest : public MpiStoreTest,
                   public ::testing::WithParamInterface<std::tuple<std::string, bool>> {};

TEST_P(ParityTest, SameModelAsOneProcess) {
  const auto& [rule, duplicates] = GetParam();
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule(rule));
  if (rank() == 0) {
    LocalStore local(initial, MakeRule(rule));
    ReferenceStore reference(initial, MakeRule(rule));
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (int step = 0; step < 60; ++step) {
      // Two blocks: table step % 3 densely packed, and table "in" at a
      // stride. With `duplicates`, ids are drawn with replacement (so some
      // repeat, within a block and across the two); without, no row repeats
      // within the push.
      const size_t t = step % 3;
      const size_t dim_t = initial.table(t).dim();
      const size_t dim_in = initial.table(0).dim();
      std::vector<RowId> ids_t, ids_in;
      std::vector<std::vector<bool>> used(3);
      for (size_t k = 0; k < 3; ++k) used[k].assign(initial.table(k).rows(), false);
      auto draw = [&](size_t table, size_t n, std::vector<RowId>& ids) {
        for (size_t i = 0; i < n; ++i) {
          const RowId id = rng() % initial.table(table).rows();
          if (!duplicates && used[table][id]) continue;
          used[table][id] = true;
          ids.push_back(id);
        }
      };
      draw(t, 1 + rng() % 9, ids_t);
      draw(0, 1 + rng() % 6, ids_in);
      const size_t stride_in = dim_in + 3;
      std::vector<float> v_t(ids_t.size() * dim_t), v_in(ids_in.size() * stride_in);
      for (float& v : v_t) v = value(rng);
      for (float& v : v_in) v = value(rng);
      const ConstRowBlock push[] = {{t, ids_t, v_t.data(), 0}, {0, ids_in, v_in.data(), stride_in}};
      PushOptions options;
      if (step % 2 == 1) {
        options.kind = PushOptions::Kind::kDelta;
        options.rate = 0.05f;
      }
      if (duplicates) {
        reference.Push(push, options);
      } else {
        ASSERT_TRUE(local.PushNow(push, options).ok());
      }
      const Ticket pushed = store->Push(push, options);
      // A pull issued after the push, before its Wait, sees it: messages
      // between two ranks keep their order, and so does the owner.
      std::vector<float> got_t(ids_t.size() * dim_t), want_t(got_t.size());
      std::vector<float> got_in(ids_in.size() * stride_in, -7.0f), want_in(got_in);
      const RowBlock pull_got[] = {{t, ids_t, got_t.data(), 0},
                                   {0, ids_in, got_in.data(), stride_in}};
      const RowBlock pull_want[] = {{t, ids_t, want_t.data(), 0},
                                    {0, ids_in, want_in.data(), stride_in}};
      const Ticket pulled = store->Pull(pull_got);
      EXPECT_TRUE(store->Wait(pushed).ok());
      EXPECT_TRUE(store->Wait(pulled).ok());
      if (duplicates) {
        reference.Pull(pull_want);
      } else {
        ASSERT_TRUE(local.PullNow(pull_want).ok());
      }
      EXPECT_EQ(got_t, want_t) << "step " << step;
      EXPECT_EQ(got_in, want_in) << "step " << step;  // Padding between rows untouched.
    }
    EXPECT_TRUE(store->Barrier().ok());
    Result<Model> snapshot = store->Snapshot();
    ASSERT_TRUE(snapshot.ok());
    ExpectModelsEqual(duplicates ? reference.model() : local.model(), snapshot.value());
  } else {
    EXPECT_TRUE(store->Barrier().ok());
    Result<Model> snapshot = store->Snapshot();
    ASSERT_TRUE(snapshot.ok());
    EXPECT_EQ(snapshot.value().num_tables(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, ParityTest,
                         ::testing::Combine(::testing::Values("sgd", "adagrad", "adam", "momentum"),
                                            ::testing::Bool()));

// (a') PullChanged returns a client's every row the first time, then the
// rows other ranks' clients pushed (its own too where the rule does not add
// a delta as it is), with their values as a plain pull gives them, then
// nothing until the next change.
TEST_F(MpiStoreTest, PullChangedReturnsTheRowsOthersChanged) {
  for (const std::string rule : {"sgd", "adagrad"}) {
    SCOPED_TRACE(rule);
    const Model initial = MakeModel();
    auto store = Make(initial, MakeRule(rule));
    const uint32_t client = store->NewClient();
    const Table& in = initial.table(0);
    auto pull_changed = [&](RowId begin, RowId end) {
      ChangedRows range;
      range.table = 0;
      range.begin = begin;
      range.end = end;
      EXPECT_TRUE(store->Wait(store->PullChanged(client, {&range, 1})).ok());
      // Sorted by id, each checked against a plain pull of the row.
      std::vector<RowId> ids = range.ids;
      std::sort(ids.begin(), ids.end());
      for (size_t i = 0; i < range.ids.size(); ++i) {
        std::vector<float> want(in.dim());
        const RowBlock block{0, {&range.ids[i], 1}, want.data(), 0};
        EXPECT_TRUE(store->PullNow({&block, 1}).ok());
        EXPECT_EQ(std::vector<float>(range.values.begin() + i * in.dim(),
                                     range.values.begin() + (i + 1) * in.dim()),
                  want)
            << "row " << range.ids[i];
      }
      return ids;
    };
    // The first time: every row of the range, on every owner.
    std::vector<RowId> all(in.rows());
    std::iota(all.begin(), all.end(), RowId{0});
    EXPECT_EQ(pull_changed(0, in.rows()), all);
    EXPECT_TRUE(store->Barrier().ok());
    // Rank r changes rows r and r + 4.
    const RowId mine[] = {static_cast<RowId>(rank()), static_cast<RowId>(rank() + 4)};
    std::vector<float> delta(2 * in.dim(), 0.25f);
    PushOptions options;
    options.kind = PushOptions::Kind::kDelta;
    options.rate = 0.1f;
    options.client = client;
    const ConstRowBlock push{0, mine, delta.data(), 0};
    EXPECT_TRUE(store->PushNow({&push, 1}, options).ok());
    EXPECT_TRUE(store->Barrier().ok());
    std::vector<RowId> want;
    for (int q = 0; q < ranks(); ++q) {
      if (q == rank() && rule == "sgd") continue;
      want.push_back(static_cast<RowId>(q));
      want.push_back(static_cast<RowId>(q + 4));
    }
    std::sort(want.begin(), want.end());
    // A range takes only its rows; the rest stay changed for later.
    std::vector<RowId> low, high;
    for (RowId id : want) (id < 3 ? low : high).push_back(id);
    EXPECT_EQ(pull_changed(0, 3), low);
    EXPECT_EQ(pull_changed(0, in.rows()), high);
    EXPECT_TRUE(pull_changed(0, in.rows()).empty());  // Taken: nothing new.
    EXPECT_TRUE(store->Barrier().ok());
  }
}

// (a''') On a quantized wire every rank keeps the initial model
// (initial_model), and a client that starts from it asks for its first pull
// from_initial: only the rows that differ from the initial model come back,
// as deltas from it, and the client's view plus them is the master. Later
// pulls go on from there; a second first pull, or one on a store without
// an initial model, is refused.
TEST_F(MpiStoreTest, AFirstPullFromTheInitialModelBringsOnlyTheRowsThatDiffer) {
  for (const auto wire : {ClusterOptions::Wire::kInt8, ClusterOptions::Wire::kInt4}) {
    SCOPED_TRACE(wire == ClusterOptions::Wire::kInt8 ? "int8" : "int4");
    const Model initial = MakeModel();
    auto store = Make(initial, MakeRule("sgd"), wire);
    const Table& out = initial.table(1);  // 7 rows of 20.
    const size_t dim = out.dim();
    const int bits = wire == ClusterOptions::Wire::kInt8 ? 8 : 4;
    ASSERT_NE(store->initial_model(), nullptr);
    const Table& kept = store->initial_model()->table(1);
    EXPECT_EQ(std::vector<float>(kept.row(0), kept.row(0) + out.rows() * out.stride()),
              std::vector<float>(out.row(0), out.row(0) + out.rows() * out.stride()));
    // Rank 0 moves rows 1 and 4 (rows of both ranks' shards) by 0.5.
    if (rank() == 0) {
      const RowId moved[] = {1, 4};
      const std::vector<float> delta(2 * dim, 0.5f);
      PushOptions options;
      options.kind = PushOptions::Kind::kDelta;
      options.rate = 0.1f;
      const ConstRowBlock push{1, moved, delta.data(), 0};
      EXPECT_TRUE(store->PushNow({&push, 1}, options).ok());
    }
    EXPECT_TRUE(store->Barrier().ok());
    const uint32_t client = store->NewClient();
    auto pull = [&](bool from_initial, Table* view) {
      ChangedRows range;
      range.table = 1;
      range.end = out.rows();
      range.from_initial = from_initial;
      EXPECT_TRUE(store->Wait(store->PullChanged(client, {&range, 1})).ok());
      EXPECT_TRUE(range.deltas);
      const size_t row_bytes = QuantizedRowBytes(dim, bits);
      EXPECT_EQ(range.packed.size(), range.ids.size() * row_bytes);
      for (size_t i = 0; i < range.ids.size(); ++i) {
        std::vector<float> d(dim);
        DecodeQuantizedRow(&range.packed[i * row_bytes], dim, bits, d.data());
        for (size_t k = 0; k < dim; ++k) view->row(range.ids[i])[k] += d[k];
      }
      std::vector<RowId> ids = range.ids;
      std::sort(ids.begin(), ids.end());
      return ids;
    };
    Table view = out;
    EXPECT_EQ(pull(true, &view), (std::vector<RowId>{1, 4}));
    for (size_t r = 0; r < out.rows(); ++r) {
      for (size_t k = 0; k < dim; ++k) {
        const float want = out.row(r)[k] + (r == 1 || r == 4 ? 0.5f : 0.0f);
        EXPECT_EQ(view.row(r)[k], want) << "row " << r;
      }
    }
    EXPECT_TRUE(pull(false, &view).empty());  // Nothing changed since.
    ChangedRows again;
    again.table = 1;
    again.end = out.rows();
    again.from_initial = true;
    EXPECT_EQ(store->Wait(store->PullChanged(client, {&again, 1})).code(),
              Status::Code::kInvalidArgument);
    EXPECT_TRUE(store->Barrier().ok());
  }
  auto plain = Make(MakeModel(), MakeRule("sgd"));
  EXPECT_EQ(plain->initial_model(), nullptr);
  ChangedRows range;
  range.table = 1;
  range.end = 7;
  range.from_initial = true;
  EXPECT_EQ(plain->Wait(plain->PullChanged(plain->NewClient(), {&range, 1})).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(plain->Barrier().ok());
}

// (a'') On the int8 and int4 wires, a client's rounded pushes arrive as
// they were rounded, and after its first pull (values, exactly) PullChanged
// sends each changed row's difference from what the client last got,
// quantized, the owner keeping what it sent: the client's view plus the
// deltas is the master exactly where the changes are on the grid (SGD
// adding rounded pushes), and within half a step of the last difference
// where they are not (AdaGrad), the error not growing from pull to pull.
TEST_F(MpiStoreTest, QuantizedWiresSendRoundedPushesAndDeltasThatAddUp) {
  for (const auto wire : {ClusterOptions::Wire::kInt8, ClusterOptions::Wire::kInt4}) {
    for (const std::string rule : {"sgd", "adagrad"}) {
      SCOPED_TRACE(rule + (wire == ClusterOptions::Wire::kInt8 ? " int8" : " int4"));
      const Model initial = MakeModel();
      auto store = Make(initial, MakeRule(rule), wire);
      EXPECT_TRUE(store->RoundsPushes());
      const uint32_t client = store->NewClient();
      const Table& out = initial.table(1);  // 7 rows of 20.
      const size_t dim = out.dim();
      const int bits = wire == ClusterOptions::Wire::kInt8 ? 8 : 4;
      Table view = out;
      auto master = [&] {
        std::vector<RowId> all(out.rows());
        std::iota(all.begin(), all.end(), RowId{0});
        std::vector<float> got(out.rows() * dim);
        const RowBlock block{1, all, got.data(), 0};
        EXPECT_TRUE(store->PullNow({&block, 1}).ok());
        return got;
      };
      // Adds a PullChanged to the view; returns the largest change it brought.
      auto pull_changed = [&](bool deltas) {
        ChangedRows range;
        range.table = 1;
        range.end = out.rows();
        EXPECT_TRUE(store->Wait(store->PullChanged(client, {&range, 1})).ok());
        EXPECT_EQ(range.deltas, deltas);
        // Deltas come quantized, values as floats.
        EXPECT_EQ(range.bits, deltas ? bits : 0);
        const size_t row_bytes = QuantizedRowBytes(dim, bits);
        EXPECT_EQ(range.packed.size(), deltas ? range.ids.size() * row_bytes : 0);
        EXPECT_EQ(range.values.size(), deltas ? 0 : range.ids.size() * dim);
        std::vector<float> delta(dim);
        for (size_t i = 0; i < range.ids.size(); ++i) {
          float* row = view.row(range.ids[i]);
          if (deltas) DecodeQuantizedRow(&range.packed[i * row_bytes], dim, bits, delta.data());
          for (size_t k = 0; k < dim; ++k) {
            row[k] = deltas ? row[k] + delta[k] : range.values[i * dim + k];
          }
        }
      };
      pull_changed(false);
      {
        const std::vector<float> want = master();
        for (size_t r = 0; r < out.rows(); ++r) {
          EXPECT_EQ(std::vector<float>(view.row(r), view.row(r) + dim),
                    std::vector<float>(want.begin() + r * dim, want.begin() + (r + 1) * dim));
        }
      }
      for (int step = 0; step < 3; ++step) {
        EXPECT_TRUE(store->Barrier().ok());
        // Rank q changes rows q and q + 4, rounded as the store rounds.
        const RowId mine[] = {static_cast<RowId>(rank()), static_cast<RowId>(rank() + 4)};
        std::vector<float> delta(2 * dim);
        for (size_t i = 0; i < delta.size(); ++i) {
          delta[i] = 0.01f * static_cast<float>((i * 37 + step * 11 + rank() * 5) % 23) - 0.11f;
        }
        store->RoundForPush(delta, dim);
        std::vector<float> rounded = delta;
        for (size_t i = 0; i < 2; ++i)
          RoundQuantizedRow(&rounded[i * dim], dim, wire == ClusterOptions::Wire::kInt8 ? 8 : 4);
        EXPECT_EQ(delta, rounded);  // Already on the grid: unchanged.
        PushOptions options;
        options.kind = PushOptions::Kind::kDelta;
        options.rate = 0.1f;
        options.client = client;
        options.rounded = true;
        const std::vector<float> before = master();
        const ConstRowBlock push{1, mine, delta.data(), 0};
        EXPECT_TRUE(store->PushNow({&push, 1}, options).ok());
        for (size_t i = 0; i < 2; ++i) {
          for (size_t k = 0; k < dim; ++k) view.row(mine[i])[k] += delta[i * dim + k];
        }
        if (rule == "sgd") {
          // The owner added the rounded change as it is.
          const std::vector<float> after = master();
          for (size_t i = 0; i < 2; ++i) {
            for (size_t k = 0; k < dim; ++k) {
              EXPECT_EQ(after[mine[i] * dim + k], before[mine[i] * dim + k] + delta[i * dim + k]);
            }
          }
        }
        EXPECT_TRUE(store->Barrier().ok());
        const std::vector<float> want = master();
        std::vector<double> gap(out.rows(), 0.0);  // Before the pull: what it must bring.
        for (size_t r = 0; r < out.rows(); ++r) {
          for (size_t k = 0; k < dim; ++k) {
            gap[r] = std::max(gap[r],
                              std::fabs(static_cast<double>(want[r * dim + k]) - view.row(r)[k]));
          }
        }
        pull_changed(true);
        const double limit = wire == ClusterOptions::Wire::kInt8 ? 127 : 7;
        for (size_t r = 0; r < out.rows(); ++r) {
          for (size_t k = 0; k < dim; ++k) {
            const double error = std::fabs(static_cast<double>(want[r * dim + k]) - view.row(r)[k]);
            if (rule == "sgd") {
              EXPECT_EQ(view.row(r)[k], want[r * dim + k]) << "row " << r << " col " << k;
            } else {
              EXPECT_LE(error, gap[r] / limit * 1.0001) << "row " << r << " col " << k;
            }
          }
        }
      }
      // A client's pushes to rounds cannot be followed on these wires.
      PushOptions deferred;
      deferred.kind = PushOptions::Kind::kDelta;
      deferred.client = client;
      deferred.defer_to_round = true;
      const RowId one[] = {0};
      std::vector<float> zeros(dim, 0.0f);
      const ConstRowBlock push{1, one, zeros.data(), 0};
      EXPECT_EQ(store->PushNow({&push, 1}, deferred).code(), Status::Code::kInvalidArgument);
      EXPECT_TRUE(store->Barrier().ok());
    }
  }
}

// (b) Every rank's pushes reach every row's owner; after Barrier every rank
// pulls the sum of them all.
TEST_F(MpiStoreTest, PullsSeeEveryRanksPushesAfterBarrier) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("sgd", 0.5f));
  const Table& in = initial.table(0);
  std::vector<RowId> ids;
  for (RowId r = 0; r < in.rows(); ++r) ids.push_back(r);
  for (RowId r = 0; r < in.rows(); ++r) ids.push_back(r);  // Each row twice.
  std::vector<float> g(ids.size() * in.dim(), static_cast<float>(rank() + 1));
  const ConstRowBlock push{0, ids, g.data(), 0};
  EXPECT_TRUE(store->PushNow({&push, 1}).ok());
  EXPECT_TRUE(store->Barrier().ok());
  std::vector<float> got(in.rows() * in.dim());
  const RowBlock pull{0, {ids.data(), in.rows()}, got.data(), 0};
  EXPECT_TRUE(store->PullNow({&pull, 1}).ok());
  float total = 0;  // Sum over ranks of 2 * (rank + 1).
  for (int r = 0; r < ranks(); ++r) total += 2.0f * static_cast<float>(r + 1);
  for (size_t r = 0; r < in.rows(); ++r) {
    for (size_t c = 0; c < in.dim(); ++c) {
      EXPECT_EQ(got[r * in.dim() + c], in.row(r)[c] - 0.5f * total) << r << "," << c;
    }
  }
  EXPECT_TRUE(store->Barrier().ok());
}

// (c) On the fp16 wire, remote rows arrive rounded to binary16 and remote
// pushes are applied rounded to binary16; local rows are untouched by it.
TEST_F(MpiStoreTest, Fp16WireRoundsRemoteValues) {
  Model initial;
  Table& w = initial.table(initial.AddTable("w", 9, 6));
  for (size_t r = 0; r < w.rows(); ++r) {
    for (size_t c = 0; c < w.dim(); ++c) w.row(r)[c] = 0.1f * static_cast<float>(r * 7 + c) - 2.3f;
  }
  auto store = Make(initial, MakeRule("sgd", 0.25f), ClusterOptions::Wire::kFp16);
  if (rank() == 0) {
    std::vector<RowId> ids;
    for (RowId r = 0; r < w.rows(); ++r) ids.push_back(r);
    std::vector<float> got(ids.size() * w.dim());
    const RowBlock pull{0, ids, got.data(), 0};
    EXPECT_TRUE(store->PullNow({&pull, 1}).ok());
    for (size_t r = 0; r < w.rows(); ++r) {
      const bool local = r % static_cast<size_t>(ranks()) == 0;
      for (size_t c = 0; c < w.dim(); ++c) {
        const float want = local ? w.row(r)[c] : RoundToHalf(w.row(r)[c]);
        EXPECT_EQ(got[r * w.dim() + c], want) << r << "," << c;
      }
    }
    std::vector<float> g(ids.size() * w.dim());
    for (size_t i = 0; i < g.size(); ++i) g[i] = 0.01f * static_cast<float>(i) + 0.003f;
    const ConstRowBlock push{0, ids, g.data(), 0};
    EXPECT_TRUE(store->PushNow({&push, 1}).ok());
    // The reference: SGD applied to the values the owner receives.
    Model want = initial;
    Sgd sgd;
    for (size_t r = 0; r < w.rows(); ++r) {
      std::vector<float> received(g.begin() + r * w.dim(), g.begin() + (r + 1) * w.dim());
      if (r % static_cast<size_t>(ranks()) != 0) {
        for (float& v : received) v = RoundToHalf(v);
      }
      sgd.ApplyRow(want.table(0).row(r), nullptr, received.data(), w.dim(), 0.25f);
    }
    EXPECT_TRUE(store->Barrier().ok());
    Result<Model> snapshot = store->Snapshot();
    ASSERT_TRUE(snapshot.ok());
    ExpectModelsEqual(want, snapshot.value());
  } else {
    EXPECT_TRUE(store->Barrier().ok());
    EXPECT_TRUE(store->Snapshot().ok());
  }
}

// (d) Pushes deferred to a round, from every thread of every rank, are summed
// and applied once at the round's end: AdaGrad's state shows one application.
TEST_F(MpiStoreTest, DeferredPushesApplyOnceAsTheirSum) {
  const Model initial = MakeModel();
  const float alpha = 0.5f;
  auto store = Make(initial, MakeRule("adagrad", alpha));
  constexpr int kThreads = 2;
  auto rounds = store->NewRounds(kThreads);
  const Table& in = initial.table(0);
  // Every thread pushes (rank + 1) to every row and row 0 once more.
  std::vector<RowId> ids = {0};
  for (RowId r = 0; r < in.rows(); ++r) ids.push_back(r);
  float per_row = 0;  // Summed over ranks and threads.
  for (int r = 0; r < ranks(); ++r) per_row += kThreads * static_cast<float>(r + 1);
  // The reference: one AdaGrad step per round with the round's sums.
  auto reference = [&](int steps) {
    Table want = in;
    std::vector<float> state(in.rows() * in.dim(), 0.0f);
    AdaGrad rule(LearningRate{alpha, false, 1e-4f});
    for (int s = 0; s < steps; ++s) {
      for (size_t r = 0; r < in.rows(); ++r) {
        const float sum = (s == 0 ? per_row : 1.0f) * (r == 0 ? 2.0f : 1.0f);
        std::vector<float> g(in.dim(), sum);
        rule.ApplyRow(want.row(r), state.data() + r * in.dim(), g.data(), in.dim(), alpha);
      }
    }
    return want;
  };
  const Table after_one = reference(1);
  const Table after_two = reference(2);

  auto worker = [&](int thread) {
    std::vector<float> g(ids.size() * in.dim(), static_cast<float>(rank() + 1));
    const ConstRowBlock push{0, ids, g.data(), 0};
    PushOptions deferred;
    deferred.defer_to_round = true;
    EXPECT_TRUE(store->PushNow({&push, 1}, deferred).ok());
    // Not applied yet: the round has not ended (this thread has not arrived).
    std::vector<float> got(in.rows() * in.dim());
    const RowBlock pull{0, {ids.data() + 1, in.rows()}, got.data(), 0};
    EXPECT_TRUE(store->PullNow({&pull, 1}).ok());
    for (size_t r = 0; r < in.rows(); ++r) EXPECT_EQ(got[r * in.dim()], in.row(r)[0]);

    Result<bool> more = rounds->Next(true);
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.value());
    EXPECT_TRUE(store->PullNow({&pull, 1}).ok());
    for (size_t r = 0; r < in.rows(); ++r) {
      for (size_t c = 0; c < in.dim(); ++c) {
        EXPECT_EQ(got[r * in.dim() + c], after_one.row(r)[c]) << r << "," << c;
      }
    }
    // Round 2: only rank 0's first thread has work (a gradient of 1), so the
    // round still says "more"; AdaGrad's state carries the first round's.
    const bool has_work = rank() == 0 && thread == 0;
    if (has_work) {
      std::vector<float> ones(ids.size() * in.dim(), 1.0f);
      const ConstRowBlock push_ones{0, ids, ones.data(), 0};
      EXPECT_TRUE(store->PushNow({&push_ones, 1}, deferred).ok());
    }
    more = rounds->Next(has_work);
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.value());
    EXPECT_TRUE(store->PullNow({&pull, 1}).ok());
    for (size_t r = 0; r < in.rows(); ++r) {
      for (size_t c = 0; c < in.dim(); ++c) {
        EXPECT_EQ(got[r * in.dim() + c], after_two.row(r)[c]) << r << "," << c;
      }
    }
    more = rounds->Next(false);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(more.value());
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(store->Barrier().ok());
}

// (e) Each (epoch, partition) goes to exactly one thread of one rank, in
// epoch order; the ranks draw from one cursor, so a rank that asks more
// often gets more (here, a rank alone takes every task).
TEST_F(MpiStoreTest, TasksGoToExactlyOneRankAndThread) {
  auto store = Make(MakeModel(), MakeRule("sgd"));
  constexpr uint64_t kPartitions = 7, kEpochs = 3;
  {
    auto alone = store->NewTasks(kPartitions, kEpochs);
    const int taker = ranks() - 1;
    if (rank() == taker) {
      for (uint64_t k = 0; k < kPartitions * kEpochs; ++k) {
        const std::optional<Task> task = alone->Next();
        ASSERT_TRUE(task.has_value());
        EXPECT_EQ(task->epoch, k / kPartitions);
        EXPECT_EQ(task->partition, k % kPartitions);
      }
      EXPECT_FALSE(alone->Next().has_value());
    }
    EXPECT_TRUE(store->Barrier().ok());
    EXPECT_FALSE(alone->Next().has_value());  // Every rank: none left.
  }
  auto tasks = store->NewTasks(kPartitions, kEpochs);
  std::vector<std::vector<Task>> per_thread(3);
  std::vector<std::thread> threads;
  for (auto& mine : per_thread) {
    threads.emplace_back([&tasks, &mine] {
      while (auto task = tasks->Next()) mine.push_back(*task);
    });
  }
  for (std::thread& t : threads) t.join();
  std::string bytes;
  for (const auto& mine : per_thread) {
    for (size_t i = 0; i < mine.size(); ++i) {
      if (i > 0) EXPECT_LE(mine[i - 1].epoch, mine[i].epoch);
      bytes.append(reinterpret_cast<const char*>(&mine[i]), sizeof(Task));
    }
  }
  Result<std::vector<std::string>> all = g_cluster->AllGather(bytes);
  ASSERT_TRUE(all.ok());
  std::map<std::pair<uint64_t, uint64_t>, int> seen;
  for (const std::string& from : all.value()) {
    for (size_t at = 0; at + sizeof(Task) <= from.size(); at += sizeof(Task)) {
      Task task;
      std::memcpy(&task, from.data() + at, sizeof(Task));
      ++seen[{task.epoch, task.partition}];
    }
  }
  EXPECT_EQ(seen.size(), kPartitions * kEpochs);
  for (const auto& [task, count] : seen) {
    EXPECT_EQ(count, 1) << task.first << "," << task.second;
    EXPECT_LT(task.first, kEpochs);
    EXPECT_LT(task.second, kPartitions);
  }
  EXPECT_TRUE(store->Barrier().ok());
}

// (f) progress() sums every rank's AddProgress: exactly after a Barrier, and
// soon (the communication threads report totals every few ms) without one.
TEST_F(MpiStoreTest, ProgressSumsAllRanks) {
  auto store = Make(MakeModel(), MakeRule("sgd"));
  store->SetPlan(100000);
  EXPECT_EQ(store->planned(), 100000u);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10; ++k) store->AddProgress(static_cast<uint64_t>(rank() + 1));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(store->Barrier().ok());
  uint64_t want = 0;
  for (int r = 0; r < ranks(); ++r) want += 20 * static_cast<uint64_t>(r + 1);
  EXPECT_EQ(store->progress(), want);
  EXPECT_DOUBLE_EQ(store->progress_fraction(), static_cast<double>(want) / 100000.0);
  // No rank adds more until every rank has read the total above.
  EXPECT_TRUE(store->Barrier().ok());

  store->AddProgress(5);
  want += 5 * static_cast<uint64_t>(ranks());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store->progress() != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(store->progress(), want);
  EXPECT_TRUE(store->Barrier().ok());
  EXPECT_EQ(store->progress(), want);
}

// (g) Snapshot gathers the shards at rank 0 in row order, tables with fewer
// rows than ranks included.
TEST_F(MpiStoreTest, SnapshotOnRankZeroEqualsTheModel) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("adagrad"));
  Result<Model> snapshot = store->Snapshot();
  ASSERT_TRUE(snapshot.ok());
  if (rank() == 0) {
    ExpectModelsEqual(initial, snapshot.value());
    for (size_t t = 0; t < initial.num_tables(); ++t) {
      EXPECT_EQ(snapshot.value().table(t).name(), initial.table(t).name());
    }
  } else {
    EXPECT_EQ(snapshot.value().num_tables(), 0u);
  }
}

// Checkpoints reshard by row id. Every rank trains its rows (AdaGrad, so
// there is optimizer state), saves its shard; the shards, gathered, load
// into one embedded store whose model and state are the MPI store's, and
// back into an MPI store of this many ranks (from the embedded store's one
// shard too), whose model equals the first one's: a run saved on R ranks
// resumes on any number.
TEST_F(MpiStoreTest, CheckpointShardsLoadOnAnyNumberOfRanks) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("adagrad"));
  const Table& out = initial.table(1);
  std::vector<RowId> ids(out.rows());
  std::iota(ids.begin(), ids.end(), RowId{0});
  std::vector<float> g(out.rows() * out.dim(), 0.25f * static_cast<float>(rank() + 1));
  const ConstRowBlock push{1, ids, g.data(), 0};
  ASSERT_TRUE(store->PushNow({&push, 1}).ok());
  ASSERT_TRUE(store->Barrier().ok());
  Checkpoint mine;
  ASSERT_TRUE(store->SaveShard(mine).ok());
  EXPECT_EQ(*mine.Get("shard"), std::to_string(rank()) + " " + std::to_string(ranks()));
  Result<std::vector<std::string>> all = g_cluster->AllGather(mine.Serialize());
  ASSERT_TRUE(all.ok());
  std::vector<Checkpoint> shards;
  for (size_t r = 0; r < all->size(); ++r) {
    Result<Checkpoint> c = Checkpoint::Parse((*all)[r], "shard " + std::to_string(r));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    shards.push_back(std::move(*c));
  }
  std::vector<const Checkpoint*> reversed;  // Any order.
  for (auto it = shards.rbegin(); it != shards.rend(); ++it) reversed.push_back(&*it);
  Result<Model> trained = store->Snapshot();
  ASSERT_TRUE(trained.ok());

  LocalStore one(initial, MakeRule("adagrad"));
  ASSERT_TRUE(one.LoadShard(reversed).ok());
  if (rank() == 0) ExpectModelsEqual(*trained, one.model());
  // Without one shard, or with one twice, nothing loads.
  std::vector<const Checkpoint*> short_one(reversed.begin() + 1, reversed.end());
  EXPECT_FALSE(one.LoadShard(short_one).ok());
  std::vector<const Checkpoint*> twice = reversed;
  twice[0] = twice[1];
  EXPECT_FALSE(one.LoadShard(twice).ok());
  // Another rule is refused.
  LocalStore sgd(initial, MakeRule("sgd"));
  EXPECT_FALSE(sgd.LoadShard(reversed).ok());

  // Back into MPI stores of this many ranks, from R shards and from one:
  // the model is the trained one, and the optimizer state came back too (a
  // further push, by rank 0 alone so that AdaGrad's steps come in one order,
  // moves both alike, and as it moves the store they came from).
  Checkpoint single;
  ASSERT_TRUE(one.SaveShard(single).ok());
  auto from_all = Make(initial, MakeRule("adagrad"));
  auto from_one = Make(initial, MakeRule("adagrad"));
  ASSERT_TRUE(from_all->LoadShard(reversed).ok());
  ASSERT_TRUE(from_one->LoadShard(single).ok());
  for (ParamStore* s : {from_all.get(), from_one.get(), store.get()}) {
    Result<Model> before = s->Snapshot();
    ASSERT_TRUE(before.ok());
    if (rank() == 0) {
      ExpectModelsEqual(*trained, *before);
      EXPECT_TRUE(s->PushNow({&push, 1}).ok());
    }
    ASSERT_TRUE(s->Barrier().ok());
  }
  Result<Model> want = store->Snapshot();
  Result<Model> a = from_all->Snapshot();
  Result<Model> b = from_one->Snapshot();
  ASSERT_TRUE(want.ok() && a.ok() && b.ok());
  if (rank() == 0) {
    ExpectModelsEqual(*want, *a);
    ExpectModelsEqual(*want, *b);
  }
}

// (g2) Once LoadShard has put saved rows in, a quantized store offers no
// initial model any more: a full replica's first pull brings every row
// exactly (fp32), not as 4-bit deltas from the initial values, whose
// rounding would stay in its view of the rows nobody changes again.
TEST_F(MpiStoreTest, LoadedRowsArePulledExactlyOnAQuantizedWire) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("sgd"), ClusterOptions::Wire::kInt4);
  EXPECT_NE(store->initial_model(), nullptr);
  // Saved rows unlike the initial ones by amounts 4 bits cannot carry.
  Model saved_model = initial;
  for (size_t t = 0; t < saved_model.num_tables(); ++t) {
    Table& table = saved_model.table(t);
    for (size_t r = 0; r < table.rows(); ++r) {
      for (size_t c = 0; c < table.dim(); ++c) table.row(r)[c] += 0.001f * ((r * 13 + c * 5) % 97);
    }
  }
  LocalStore saver(saved_model, MakeRule("sgd"));
  Checkpoint saved;
  ASSERT_TRUE(saver.SaveShard(saved).ok());
  EXPECT_TRUE(store->LoadShard(saved).ok());
  EXPECT_EQ(store->initial_model(), nullptr);
  EXPECT_TRUE(store->Barrier().ok());  // Every owner has loaded its rows.
  const uint32_t client = store->NewClient();
  std::vector<ChangedRows> ranges(saved_model.num_tables());
  for (size_t t = 0; t < ranges.size(); ++t) {
    ranges[t].table = t;
    ranges[t].end = saved_model.table(t).rows();
  }
  EXPECT_TRUE(store->Wait(store->PullChanged(client, ranges)).ok());
  for (size_t t = 0; t < ranges.size(); ++t) {
    const Table& want = saved_model.table(t);
    const ChangedRows& got = ranges[t];
    EXPECT_FALSE(got.deltas);
    ASSERT_EQ(got.ids.size(), want.rows());
    ASSERT_EQ(got.values.size(), want.rows() * want.dim());
    for (size_t i = 0; i < got.ids.size(); ++i) {
      for (size_t c = 0; c < want.dim(); ++c) {
        EXPECT_EQ(got.values[i * want.dim() + c], want.row(got.ids[i])[c])
            << "table " << t << " row " << got.ids[i];
      }
    }
  }
  EXPECT_TRUE(store->Barrier().ok());
}

// (i) Checkpoints across ranks, through the DeepDist scope: every rank
// pauses and copies its shard at the same checkpoints, and any of them
// resumes on the same ranks and on one process (every shard loaded there),
// with every remaining task applied exactly once.
TEST_F(MpiStoreTest, ScopeCheckpointsResumeOnAnyNumberOfRanks) {
  std::vector<PartitionSpec> parts;
  for (size_t i = 0; i < 60; ++i) {
    PartitionSpec spec;
    spec.path = "/nonexistent/part-" + std::to_string(i);
    spec.end = 1;
    spec.size_hint = 1;
    parts.push_back(spec);
  }
  Model shape;
  shape.AddTable("s", 2, 1);  // Row 0 at rank 0, row 1 at rank 1.
  // Every task adds 1 to row 0 and 2 to row 1; slow enough for the ranks'
  // watchers to vote several times.
  auto gradient = [](const Model&, Partition&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    Update u;
    const float one = 1.0f, two = 2.0f;
    u.Add(0, 1, 0, &one);
    u.Add(0, 1, 1, &two);
    return u;
  };
  const DescentFn add = [](std::span<float> row, std::span<const float> update, float) {
    for (size_t i = 0; i < row.size(); ++i) row[i] += update[i];
  };
  auto expect_done = [&](const Model& m, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(m["s"].row(0)[0], 120.0f);
    EXPECT_EQ(m["s"].row(1)[0], 240.0f);
  };
  std::vector<Checkpoint> saved;
  DeepDist dd(shape, {.threads = 1,
                      .epochs = 2,
                      .cluster = g_cluster,
                      .checkpoint_every = 0.01,
                      .on_checkpoint = [&](Checkpoint& c) {
                        saved.push_back(c);
                        return Status::OK();
                      }});
  EXPECT_TRUE(dd.train(parts, gradient, add).ok());
  if (rank() == 0) expect_done(dd.model(), "uninterrupted");

  // Every rank took the same checkpoints.
  Result<std::vector<std::string>> counts = g_cluster->AllGather(std::to_string(saved.size()));
  ASSERT_TRUE(counts.ok());
  for (const std::string& n : *counts) EXPECT_EQ(n, std::to_string(saved.size()));
  EXPECT_GE(saved.size(), 1u);
  size_t fewest = saved.size();
  for (const std::string& n : *counts) fewest = std::min<size_t>(fewest, std::stoul(n));
  for (size_t k : {size_t{0}, fewest - 1}) {
    if (k >= fewest) continue;
    SCOPED_TRACE("checkpoint " + std::to_string(k));
    Result<std::vector<std::string>> all = g_cluster->AllGather(saved[k].Serialize());
    ASSERT_TRUE(all.ok());
    std::vector<Checkpoint> shards;
    for (const std::string& bytes : *all) {
      Result<Checkpoint> c = Checkpoint::Parse(bytes, "rank checkpoint");
      ASSERT_TRUE(c.ok()) << c.status().message();
      shards.push_back(std::move(*c));
    }
    std::vector<const Checkpoint*> from;
    for (const Checkpoint& c : shards) from.push_back(&c);
    DeepDist again(shape, {.threads = 1, .epochs = 2, .cluster = g_cluster, .resume = from});
    EXPECT_TRUE(again.train(parts, gradient, add).ok());
    if (rank() == 0) expect_done(again.model(), "resumed on as many ranks");
    if (rank() == 0) {
      DeepDist one(shape, {.threads = 2, .epochs = 2, .resume = from});
      EXPECT_TRUE(one.train(parts, gradient, add).ok());
      expect_done(one.model(), "resumed in one process");
    }
  }
}

// (h) Remote traffic counts its bytes; pulls of local rows send nothing.
TEST_F(MpiStoreTest, BytesSentCountsRemoteTrafficOnly) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("sgd"));
  EXPECT_TRUE(store->Barrier().ok());
  if (rank() == 0) {
    const uint64_t before = store->bytes_sent();
    std::vector<RowId> local_ids;
    for (RowId r = 0; r < initial.table(0).rows(); r += static_cast<RowId>(ranks())) {
      local_ids.push_back(r);
    }
    std::vector<float> buffer(initial.table(0).rows() * initial.table(0).dim());
    const RowBlock local_pull{0, local_ids, buffer.data(), 0};
    EXPECT_TRUE(store->PullNow({&local_pull, 1}).ok());
    EXPECT_EQ(store->bytes_sent(), before);
    EXPECT_EQ(store->bytes_sent(), g_cluster->bytes_sent());

    const RowId remote = 1;
    const RowBlock remote_pull{0, {&remote, 1}, buffer.data(), 0};
    EXPECT_TRUE(store->PullNow({&remote_pull, 1}).ok());
    const uint64_t after_pull = store->bytes_sent();
    EXPECT_GT(after_pull, before);
    const ConstRowBlock remote_push{0, {&remote, 1}, buffer.data(), 0};
    EXPECT_TRUE(store->PushNow({&remote_push, 1}).ok());
    // The push carries a row of 5 floats and its id, at least.
    EXPECT_GE(store->bytes_sent(), after_pull + 5 * sizeof(float) + sizeof(uint32_t));
  }
  EXPECT_TRUE(store->Barrier().ok());
}

// Out-of-range tables and rows are errors from Wait, naming the operation.
TEST_F(MpiStoreTest, OutOfRangeIsAnError) {
  const Model initial = MakeModel();
  auto store = Make(initial, MakeRule("sgd"));
  float buffer[64] = {};
  const RowId far = 1000, one = 1;
  const RowBlock bad_table{99, {&one, 1}, buffer, 0};
  const RowBlock bad_row{0, {&far, 1}, buffer, 0};
  const ConstRowBlock bad_push_table{99, {&one, 1}, buffer, 0};
  const ConstRowBlock bad_push_row{1, {&far, 1}, buffer, 0};
  Status s = store->PullNow({&bad_table, 1});
  EXPECT_EQ(s.code(), Status::Code::kOutOfRange);
  EXPECT_NE(s.message().find("pull"), std::string::npos) << s.message();
  s = store->PullNow({&bad_row, 1});
  EXPECT_EQ(s.code(), Status::Code::kOutOfRange);
  EXPECT_NE(s.message().find("pull"), std::string::npos) << s.message();
  s = store->PushNow({&bad_push_table, 1});
  EXPECT_EQ(s.code(), Status::Code::kOutOfRange);
  EXPECT_NE(s.message().find("push"), std::string::npos) << s.message();
  s = store->PushNow({&bad_push_row, 1});
  EXPECT_EQ(s.code(), Status::Code::kOutOfRange);
  EXPECT_NE(s.message().find("push"), std::string::npos) << s.message();
  EXPECT_TRUE(store->Barrier().ok());
}

// Prints one line per failed assertion, prefixed with the rank (ranks other
// than 0 have no other output).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_,
                 result.file_name() != nullptr ? result.file_name() : "?", result.line_number(),
                 result.summary());
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace deepdist

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // JoinCluster initialises MPI (on its communication thread); nothing here
  // touches MPI.
  auto cluster = deepdist::JoinCluster();
  if (!cluster.ok()) {
    std::fprintf(stderr, "deepdist: %s\n", cluster.status().message().c_str());
    return 1;
  }
  deepdist::g_cluster = cluster->get();
  const int rank = deepdist::g_cluster->rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new deepdist::RankFailurePrinter(rank));
  }
  const int rc = RUN_ALL_TESTS();
  // Every rank exits with the same status: failed if any rank failed.
  deepdist::Result<uint64_t> failed = deepdist::g_cluster->Sum(rc != 0 ? 1 : 0);
  const int status = failed.ok() && failed.value() == 0 ? 0 : 1;
  if (rank == 0 && failed.ok() && failed.value() > 0 && rc == 0) {
    std::fprintf(stderr, "%llu rank(s) failed\n", static_cast<unsigned long long>(failed.value()));
  }
  cluster->reset();  // Finalises MPI.
  return status;
}
