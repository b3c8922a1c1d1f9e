// Descent rules against values worked out by hand, the learning-rate
// schedule, and the whole-update form that DeepDist::train uses.
#include "deepdist/descent.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "deepdist/model.h"

namespace deepdist {
namespace {

TEST(SgdTest, ApplyRowSubtractsLearningRateTimesGradient) {
  Sgd sgd;
  // row = [1, 2, 3], g = [0.5, -1, 2], lr = 0.1:
  // row - 0.1 * g = [1 - 0.05, 2 + 0.1, 3 - 0.2] = [0.95, 2.1, 2.8].
  std::vector<float> row = {1.0f, 2.0f, 3.0f};
  const std::vector<float> g = {0.5f, -1.0f, 2.0f};
  sgd.ApplyRow(row.data(), nullptr, g.data(), 3, 0.1f);
  EXPECT_FLOAT_EQ(row[0], 0.95f);
  EXPECT_FLOAT_EQ(row[1], 2.1f);
  EXPECT_FLOAT_EQ(row[2], 2.8f);
  // Same gradient again: [0.95 - 0.05, 2.1 + 0.1, 2.8 - 0.2] = [0.9, 2.2, 2.6].
  sgd.ApplyRow(row.data(), nullptr, g.data(), 3, 0.1f);
  EXPECT_FLOAT_EQ(row[0], 0.9f);
  EXPECT_FLOAT_EQ(row[1], 2.2f);
  EXPECT_FLOAT_EQ(row[2], 2.6f);
}

TEST(SgdTest, ApplyRowTouchesOnlyNValues) {
  Sgd sgd;
  std::vector<float> row = {1.0f, 1.0f, 1.0f, 1.0f};
  const std::vector<float> g = {1.0f, 1.0f, 1.0f, 1.0f};
  sgd.ApplyRow(row.data(), nullptr, g.data(), 2, 0.5f);
  EXPECT_EQ(row, (std::vector<float>{0.5f, 0.5f, 1.0f, 1.0f}));
}

TEST(SgdTest, Properties) {
  Sgd sgd;
  EXPECT_EQ(sgd.name(), "sgd");
  EXPECT_EQ(sgd.state_per_value(), 0u);
  EXPECT_TRUE(sgd.allows_hogwild());
  // Default schedule: word2vec's linear decay from 0.025.
  EXPECT_FLOAT_EQ(sgd.schedule().alpha, 0.025f);
  EXPECT_TRUE(sgd.schedule().linear_decay);
  EXPECT_FLOAT_EQ(sgd.schedule().min_fraction, 1e-4f);
}

TEST(AdaGradTest, ApplyRowTwiceMatchesHandComputedValues) {
  AdaGrad adagrad;
  // lr = 0.1, row = [0, 0], state = [0, 0], g = [1, 2].
  // Step 1: state = [1, 4]; row -= 0.1 * [1/sqrt(1), 2/sqrt(4)] = 0.1 * [1, 1]
  //         row = [-0.1, -0.1].
  // Step 2: state = [2, 8]; row -= 0.1 * [1/sqrt(2), 2/sqrt(8)]
  //         = 0.1 * [0.70710678, 0.70710678]
  //         row = [-0.17071068, -0.17071068].
  // (eps = 1e-8 changes these only beyond float precision.)
  std::vector<float> row = {0.0f, 0.0f};
  std::vector<float> state = {0.0f, 0.0f};
  const std::vector<float> g = {1.0f, 2.0f};
  adagrad.ApplyRow(row.data(), state.data(), g.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 1.0f);
  EXPECT_FLOAT_EQ(state[1], 4.0f);
  EXPECT_NEAR(row[0], -0.1f, 1e-7);
  EXPECT_NEAR(row[1], -0.1f, 1e-7);
  adagrad.ApplyRow(row.data(), state.data(), g.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 2.0f);
  EXPECT_FLOAT_EQ(state[1], 8.0f);
  EXPECT_NEAR(row[0], -0.17071068f, 1e-6);
  EXPECT_NEAR(row[1], -0.17071068f, 1e-6);
}

TEST(AdaGradTest, FirstStepIsLearningRateTimesSign) {
  AdaGrad adagrad;
  // row = [1, 1, 5], g = [0.5, -3, 4], lr = 0.2:
  // state = [0.25, 9, 16]; step = 0.2 * [0.5/0.5, -3/3, 4/4] = [0.2, -0.2, 0.2]
  // row = [0.8, 1.2, 4.8].
  std::vector<float> row = {1.0f, 1.0f, 5.0f};
  std::vector<float> state = {0.0f, 0.0f, 0.0f};
  const std::vector<float> g = {0.5f, -3.0f, 4.0f};
  adagrad.ApplyRow(row.data(), state.data(), g.data(), 3, 0.2f);
  EXPECT_FLOAT_EQ(state[0], 0.25f);
  EXPECT_FLOAT_EQ(state[1], 9.0f);
  EXPECT_FLOAT_EQ(state[2], 16.0f);
  EXPECT_NEAR(row[0], 0.8f, 1e-6);
  EXPECT_NEAR(row[1], 1.2f, 1e-6);
  EXPECT_NEAR(row[2], 4.8f, 1e-6);
}

TEST(AdaGradTest, UsesExistingState) {
  AdaGrad adagrad;
  // state = [3], g = [1], lr = 1: state = 4; row -= 1 / sqrt(4) = 0.5: row = 1.5.
  float row = 2.0f;
  float state = 3.0f;
  const float g = 1.0f;
  adagrad.ApplyRow(&row, &state, &g, 1, 1.0f);
  EXPECT_FLOAT_EQ(state, 4.0f);
  EXPECT_NEAR(row, 1.5f, 1e-6);
}

TEST(AdaGradTest, ZeroGradientOnFreshStateLeavesRowFinite) {
  AdaGrad adagrad;
  // g = 0, state = 0: 0 / (sqrt(0) + eps) = 0, so the row does not move.
  float row = 3.0f;
  float state = 0.0f;
  const float g = 0.0f;
  adagrad.ApplyRow(&row, &state, &g, 1, 0.5f);
  EXPECT_EQ(row, 3.0f);
  EXPECT_EQ(state, 0.0f);
}

TEST(AdaGradTest, Properties) {
  AdaGrad adagrad;
  EXPECT_EQ(adagrad.name(), "adagrad");
  EXPECT_EQ(adagrad.state_per_value(), 1u);
  EXPECT_FALSE(adagrad.allows_hogwild());
  // Default schedule: constant 0.025.
  EXPECT_FLOAT_EQ(adagrad.schedule().alpha, 0.025f);
  EXPECT_FALSE(adagrad.schedule().linear_decay);
  adagrad.set_progress(0.9);
  EXPECT_FLOAT_EQ(adagrad.learning_rate(), 0.025f);
}

TEST(MomentumTest, TwoStepsMatchHandComputedValues) {
  Sgd sgd(LearningRate{}, 0.9f);
  // mu = 0.9, lr = 0.1, row = [0, 0], v = [0, 0], g = [1, -2].
  // Step 1: v = [1, -2]; row = -0.1 * v = [-0.1, 0.2].
  // Step 2: v = 0.9 * [1, -2] + [1, -2] = [1.9, -3.8];
  //         row = [-0.1 - 0.19, 0.2 + 0.38] = [-0.29, 0.58].
  std::vector<float> row = {0.0f, 0.0f};
  std::vector<float> state(sgd.state_floats(2), 0.0f);
  ASSERT_EQ(state.size(), 2u);
  const std::vector<float> g = {1.0f, -2.0f};
  sgd.ApplyRow(row.data(), state.data(), g.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 1.0f);
  EXPECT_FLOAT_EQ(state[1], -2.0f);
  EXPECT_FLOAT_EQ(row[0], -0.1f);
  EXPECT_FLOAT_EQ(row[1], 0.2f);
  sgd.ApplyRow(row.data(), state.data(), g.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 1.9f);
  EXPECT_FLOAT_EQ(state[1], -3.8f);
  EXPECT_FLOAT_EQ(row[0], -0.29f);
  EXPECT_FLOAT_EQ(row[1], 0.58f);
}

TEST(MomentumTest, ADeltaIsAGradientOfMinusDeltaOverItsRate) {
  Sgd sgd(LearningRate{}, 0.9f);
  // delta = 0.05 at rate 0.025: g = -2; v = -2; row -= 0.1 * -2: 1 -> 1.2.
  // Plain SGD would have added the delta as it is (1.05).
  float row = 1.0f;
  float state = 0.0f;
  const float delta = 0.05f;
  sgd.ApplyDelta(&row, &state, &delta, 1, 0.025f, 0.1f);
  EXPECT_FLOAT_EQ(state, -2.0f);
  EXPECT_FLOAT_EQ(row, 1.2f);
}

TEST(MomentumTest, Properties) {
  const Sgd plain;
  const Sgd heavy(LearningRate{}, 0.5f);
  EXPECT_EQ(plain.state_floats(10), 0u);
  EXPECT_EQ(heavy.state_floats(10), 10u);
  EXPECT_TRUE(plain.allows_hogwild());
  // Workers adding -lr * g to master rows would skip the velocity.
  EXPECT_FALSE(heavy.allows_hogwild());
  EXPECT_FLOAT_EQ(heavy.momentum(), 0.5f);
}

TEST(AdamTest, TwoStepsMatchHandComputedValues) {
  const Adam adam;
  // b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.1, row = [1, 1].
  // Step 1, g = [2, -0.5]: t = 1; m = 0.1 g = [0.2, -0.05];
  //   v = 0.001 g^2 = [0.004, 0.00025]; corrected m / 0.1 = g and
  //   v / 0.001 = g^2, so the step is lr * sign(g): row = [0.9, 1.1].
  // Step 2, g = [1, 0]: t = 2; m = [0.28, -0.045]; v = [0.004996, 0.00024975];
  //   c1 = 1 - 0.81 = 0.19, c2 = 1 - 0.998001 = 0.001999;
  //   row0 = 0.9 - 0.1 * (0.28 / 0.19) / sqrt(0.004996 / 0.001999) = 0.80678204
  //   row1 = 1.1 - 0.1 * (-0.045 / 0.19) / sqrt(0.00024975 / 0.001999) = 1.16700582
  //   (the second value moves with g = 0: its momentum carries it).
  std::vector<float> row = {1.0f, 1.0f};
  std::vector<float> state(adam.state_floats(2), 0.0f);
  ASSERT_EQ(state.size(), 5u);  // m, m, v, v, t
  const std::vector<float> g1 = {2.0f, -0.5f};
  adam.ApplyRow(row.data(), state.data(), g1.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 0.2f);
  EXPECT_FLOAT_EQ(state[1], -0.05f);
  // 0.999 is not exact in float: 1 - 0.999f is 1e-3 within 1.3e-5 (relative).
  EXPECT_NEAR(state[2], 0.004f, 0.004f * 2e-5f);
  EXPECT_NEAR(state[3], 0.00025f, 0.00025f * 2e-5f);
  EXPECT_EQ(state[4], 1.0f);
  EXPECT_NEAR(row[0], 0.9f, 1e-6);
  EXPECT_NEAR(row[1], 1.1f, 1e-6);
  const std::vector<float> g2 = {1.0f, 0.0f};
  adam.ApplyRow(row.data(), state.data(), g2.data(), 2, 0.1f);
  EXPECT_FLOAT_EQ(state[0], 0.28f);
  EXPECT_FLOAT_EQ(state[1], -0.045f);
  EXPECT_NEAR(state[2], 0.004996f, 0.004996f * 2e-5f);
  EXPECT_NEAR(state[3], 0.00024975f, 0.00024975f * 2e-5f);
  EXPECT_EQ(state[4], 2.0f);
  EXPECT_NEAR(row[0], 0.80678204f, 1e-6);
  EXPECT_NEAR(row[1], 1.16700582f, 1e-6);
}

TEST(AdamTest, StepCountIsPerRow) {
  const Adam adam;
  // Two rows, one state block each: a step of one leaves the other's t at 0,
  // so the other's first step is again lr * sign(g).
  std::vector<float> rows = {0.0f, 0.0f};
  std::vector<float> state(2 * adam.state_floats(1), 0.0f);
  const float g = 4.0f;
  for (int k = 0; k < 3; ++k) adam.ApplyRow(&rows[0], &state[0], &g, 1, 0.1f);
  EXPECT_EQ(state[2], 3.0f);
  EXPECT_EQ(state[5], 0.0f);
  adam.ApplyRow(&rows[1], &state[3], &g, 1, 0.1f);
  EXPECT_EQ(state[5], 1.0f);
  EXPECT_NEAR(rows[1], -0.1f, 1e-6);
  // A constant gradient keeps the corrected ratio at 1: three steps of lr.
  EXPECT_NEAR(rows[0], -0.3f, 1e-5);
}

TEST(AdamTest, Properties) {
  const Adam adam;
  EXPECT_EQ(adam.name(), "adam");
  EXPECT_EQ(adam.state_per_value(), 2u);
  EXPECT_EQ(adam.state_per_row(), 1u);
  EXPECT_EQ(adam.state_floats(100), 201u);
  EXPECT_FALSE(adam.allows_hogwild());
  EXPECT_FLOAT_EQ(adam.schedule().alpha, 0.001f);
  EXPECT_FALSE(adam.schedule().linear_decay);
  EXPECT_FLOAT_EQ(adam.betas().beta1, 0.9f);
  EXPECT_FLOAT_EQ(adam.betas().beta2, 0.999f);
}

TEST(LearningRateTest, LinearDecay) {
  const LearningRate lr{0.025f, true, 1e-4f};
  // 0.025 * (1 - (1 - 1e-4) * p), computed in double:
  auto expected = [](double p) { return static_cast<float>(0.025 * (1.0 - 0.9999 * p)); };
  EXPECT_FLOAT_EQ(lr.At(0.0), 0.025f);
  EXPECT_FLOAT_EQ(lr.At(0.25), expected(0.25));
  EXPECT_NEAR(lr.At(0.25), 0.01875f, 1e-6f);
  EXPECT_FLOAT_EQ(lr.At(0.5), expected(0.5));
  EXPECT_FLOAT_EQ(lr.At(0.9), expected(0.9));
  EXPECT_FLOAT_EQ(lr.At(1.0), 2.5e-6f);  // 0.025 * 1e-4 at the end
  EXPECT_FLOAT_EQ(lr.At(3.0), 2.5e-6f);  // past the end: held there
  EXPECT_FLOAT_EQ(lr.At(-1.0), 0.025f);  // before the start: alpha
}

TEST(LearningRateTest, DecaysToMinFraction) {
  // gensim's alpha..min_alpha: halfway from 1 to 0.25 is 0.625.
  const LearningRate lr{1.0f, true, 0.25f};
  EXPECT_FLOAT_EQ(lr.At(0.5), 0.625f);
  EXPECT_FLOAT_EQ(lr.At(0.8), 0.4f);
  EXPECT_FLOAT_EQ(lr.At(1.0), 0.25f);
  EXPECT_FLOAT_EQ(lr.At(2.0), 0.25f);
}

TEST(LearningRateTest, ConstantWithoutDecay) {
  const LearningRate lr{0.1f, false};
  EXPECT_FLOAT_EQ(lr.At(0.0), 0.1f);
  EXPECT_FLOAT_EQ(lr.At(0.7), 0.1f);
  EXPECT_FLOAT_EQ(lr.At(1.0), 0.1f);
}

TEST(LearningRateTest, DescentFollowsProgress) {
  Sgd sgd(LearningRate{0.2f, true, 0.0f});  // 0.2 * (1 - p)
  EXPECT_EQ(sgd.progress(), 0.0);
  EXPECT_FLOAT_EQ(sgd.learning_rate(), 0.2f);
  sgd.set_progress(0.5);
  EXPECT_EQ(sgd.progress(), 0.5);
  EXPECT_FLOAT_EQ(sgd.learning_rate(), 0.1f);
  sgd.set_progress(0.75);
  EXPECT_FLOAT_EQ(sgd.learning_rate(), 0.05f);
}

// A model with two tables: "a" (4 rows of 3, all 1) and "b" (3 rows of 2,
// all 2).
Model TwoTables() {
  Model m;
  m.AddTable("a", 4, 3);
  m.AddTable("b", 3, 2);
  for (RowId r = 0; r < 4; ++r) {
    for (float& v : m["a"].row_span(r)) v = 1.0f;
  }
  for (RowId r = 0; r < 3; ++r) {
    for (float& v : m["b"].row_span(r)) v = 2.0f;
  }
  return m;
}

std::vector<float> Row(const Model& m, const std::string& table, RowId r) {
  auto span = m[table].row_span(r);
  return std::vector<float>(span.begin(), span.end());
}

TEST(DescentApplyTest, SgdChangesOnlyTheNamedRows) {
  Model m = TwoTables();
  Sgd sgd(LearningRate{0.5f, false});
  Update u;
  const float a1[3] = {2, 4, 6};
  const float a3[3] = {-2, 0, 2};
  const float b2[2] = {1, 1};
  u.Add(0, 3, 1, a1);
  u.Add(0, 3, 3, a3);
  u.Add(1, 2, 2, b2);
  sgd(m, u);
  // a[1] = 1 - 0.5 * [2, 4, 6] = [0, -1, -2]; a[3] = 1 - 0.5 * [-2, 0, 2] = [2, 1, 0];
  // b[2] = 2 - 0.5 * [1, 1] = [1.5, 1.5]; every other row unchanged.
  EXPECT_EQ(Row(m, "a", 0), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(Row(m, "a", 1), (std::vector<float>{0, -1, -2}));
  EXPECT_EQ(Row(m, "a", 2), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(Row(m, "a", 3), (std::vector<float>{2, 1, 0}));
  EXPECT_EQ(Row(m, "b", 0), (std::vector<float>{2, 2}));
  EXPECT_EQ(Row(m, "b", 1), (std::vector<float>{2, 2}));
  EXPECT_EQ(Row(m, "b", 2), (std::vector<float>{1.5f, 1.5f}));
  // Padding stays zero.
  for (size_t t = 0; t < m.num_tables(); ++t) {
    const Table& table = m.table(t);
    for (RowId r = 0; r < table.rows(); ++r) {
      for (size_t i = table.dim(); i < table.stride(); ++i) EXPECT_EQ(table.row(r)[i], 0.0f);
    }
  }
}

TEST(DescentApplyTest, EmptyUpdateChangesNothing) {
  Model m = TwoTables();
  Sgd sgd(LearningRate{0.5f, false});
  sgd(m, Update());
  for (RowId r = 0; r < 4; ++r) EXPECT_EQ(Row(m, "a", r), (std::vector<float>{1, 1, 1}));
  for (RowId r = 0; r < 3; ++r) EXPECT_EQ(Row(m, "b", r), (std::vector<float>{2, 2}));
}

TEST(DescentApplyTest, UsesTheScheduledRate) {
  Model m;
  m.AddTable("w", 1, 1);
  m["w"].row(0)[0] = 1.0f;
  Sgd sgd(LearningRate{0.2f, true, 0.0f});
  sgd.set_progress(0.5);  // lr = 0.2 * 0.5 = 0.1
  Update u;
  const float g = 1.0f;
  u.Add(0, 1, 0, &g);
  sgd(m, u);
  EXPECT_FLOAT_EQ(m["w"].row(0)[0], 0.9f);  // 1 - 0.1 * 1
}

TEST(DescentApplyTest, AdaGradKeepsStatePerRowAcrossCalls) {
  Model m;
  m.AddTable("w", 2, 2);
  AdaGrad adagrad(LearningRate{0.1f, false});
  Update u0;
  const float g[2] = {1, 2};
  u0.Add(0, 2, 0, g);
  // As in ApplyRowTwiceMatchesHandComputedValues: [-0.1, -0.1], then
  // [-0.17071068, -0.17071068].
  adagrad(m, u0);
  EXPECT_NEAR(m["w"].row(0)[0], -0.1f, 1e-7);
  EXPECT_NEAR(m["w"].row(0)[1], -0.1f, 1e-7);
  adagrad(m, u0);
  EXPECT_NEAR(m["w"].row(0)[0], -0.17071068f, 1e-6);
  EXPECT_NEAR(m["w"].row(0)[1], -0.17071068f, 1e-6);
  EXPECT_EQ(Row(m, "w", 1), (std::vector<float>{0, 0}));

  // Row 1 has its own, fresh state: its first step is lr * sign(g).
  Update u1;
  u1.Add(0, 2, 1, g);
  adagrad(m, u1);
  EXPECT_NEAR(m["w"].row(1)[0], -0.1f, 1e-7);
  EXPECT_NEAR(m["w"].row(1)[1], -0.1f, 1e-7);
  EXPECT_NEAR(m["w"].row(0)[0], -0.17071068f, 1e-6);
}

TEST(DescentApplyTest, AdaGradKeepsStatePerTable) {
  Model m;
  m.AddTable("a", 1, 1);
  m.AddTable("b", 1, 1);
  AdaGrad adagrad(LearningRate{1.0f, false});
  const float g = 2.0f;
  Update ua;
  ua.Add(0, 1, 0, &g);
  Update ub;
  ub.Add(1, 1, 0, &g);
  // a: state 4, step 2/2 = 1 -> -1; state 8, step 2/sqrt(8) = 0.70710678 -> -1.70710678.
  adagrad(m, ua);
  adagrad(m, ua);
  EXPECT_NEAR(m["a"].row(0)[0], -1.70710678f, 1e-6);
  // b's state is still 0: state 4, step 1 -> -1.
  adagrad(m, ub);
  EXPECT_NEAR(m["b"].row(0)[0], -1.0f, 1e-6);
}

TEST(MakeDescentTest, Sgd) {
  std::unique_ptr<Descent> d = MakeDescent("sgd", LearningRate{0.05f, true, 1e-3f});
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name(), "sgd");
  EXPECT_EQ(d->state_per_value(), 0u);
  EXPECT_TRUE(d->allows_hogwild());
  EXPECT_FLOAT_EQ(d->schedule().alpha, 0.05f);
  EXPECT_TRUE(d->schedule().linear_decay);
  EXPECT_FLOAT_EQ(d->schedule().min_fraction, 1e-3f);
  d->set_progress(0.5);
  EXPECT_FLOAT_EQ(d->learning_rate(), 0.05f * (1.0f - 0.999f * 0.5f));
}

TEST(MakeDescentTest, AdaGradUsesAConstantRate) {
  std::unique_ptr<Descent> d = MakeDescent("adagrad", LearningRate{0.3f, true});
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name(), "adagrad");
  EXPECT_EQ(d->state_per_value(), 1u);
  EXPECT_FALSE(d->allows_hogwild());
  EXPECT_FLOAT_EQ(d->schedule().alpha, 0.3f);
  EXPECT_FALSE(d->schedule().linear_decay);
  d->set_progress(0.9);
  EXPECT_FLOAT_EQ(d->learning_rate(), 0.3f);
}

TEST(MakeDescentTest, AdamAndMomentum) {
  DescentOptions options;
  options.momentum = 0.8f;
  options.adam.beta1 = 0.5f;
  std::unique_ptr<Descent> adam = MakeDescent("adam", LearningRate{0.01f, true}, options);
  ASSERT_NE(adam, nullptr);
  EXPECT_EQ(adam->name(), "adam");
  EXPECT_FALSE(adam->schedule().linear_decay);
  EXPECT_FLOAT_EQ(dynamic_cast<const Adam&>(*adam).betas().beta1, 0.5f);
  std::unique_ptr<Descent> sgd = MakeDescent("sgd", LearningRate{0.01f, true}, options);
  ASSERT_NE(sgd, nullptr);
  EXPECT_FLOAT_EQ(dynamic_cast<const Sgd&>(*sgd).momentum(), 0.8f);
  EXPECT_FALSE(sgd->allows_hogwild());
  EXPECT_TRUE(sgd->schedule().linear_decay);
}

TEST(MakeDescentTest, UnknownNamesGiveNull) {
  EXPECT_EQ(MakeDescent("adamw", LearningRate{}), nullptr);
  EXPECT_EQ(MakeDescent("", LearningRate{}), nullptr);
  EXPECT_EQ(MakeDescent("SGD", LearningRate{}), nullptr);
  EXPECT_EQ(MakeDescent("sgd ", LearningRate{}), nullptr);
}

}  // namespace
}  // namespace deepdist
