// Table, Model and Update: the shapes and arithmetic the rest of deepdist
// relies on.
#include "deepdist/model.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepdist {
namespace {

// Fills every value (not the padding) of `t` with a value unique to its place.
void FillValues(Table& t, float base = 0.0f) {
  for (RowId r = 0; r < t.rows(); ++r) {
    for (size_t i = 0; i < t.dim(); ++i) t.row(r)[i] = base + static_cast<float>(r * 100 + i) + 1;
  }
}

// True when every padding float (between dim and stride in each row) is zero.
bool PaddingIsZero(const Table& t) {
  for (RowId r = 0; r < t.rows(); ++r) {
    for (size_t i = t.dim(); i < t.stride(); ++i) {
      if (t.row(r)[i] != 0.0f) return false;
    }
  }
  return true;
}

TEST(TableTest, StrideIsDimRoundedUpToSixteen) {
  const std::vector<std::pair<size_t, size_t>> cases = {{1, 16},    {3, 16},   {15, 16}, {16, 16},
                                                        {17, 32},   {31, 32},  {32, 32}, {33, 48},
                                                        {100, 112}, {300, 304}};
  for (const auto& [dim, stride] : cases) {
    Table t("t", 3, dim);
    EXPECT_EQ(t.dim(), dim);
    EXPECT_EQ(t.stride(), stride) << "dim " << dim;
    EXPECT_EQ(t.stride() % Table::kRowAlign, 0u);
  }
  EXPECT_EQ(Table::kRowAlign, 16u);
}

TEST(TableTest, NameRowsAndDim) {
  Table t("embeddings", 7, 5);
  EXPECT_EQ(t.name(), "embeddings");
  EXPECT_EQ(t.rows(), 7u);
  EXPECT_EQ(t.dim(), 5u);
}

TEST(TableTest, RowsAreSixtyFourByteAligned) {
  for (size_t dim : {1u, 5u, 16u, 17u, 100u}) {
    Table t("t", 9, dim);
    for (RowId r = 0; r < t.rows(); ++r) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.row(r)) % 64, 0u) << "dim " << dim << " row " << r;
    }
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  }
}

TEST(TableTest, RowsAreStrideApartAndSpansHaveDimValues) {
  Table t("t", 4, 20);
  for (RowId r = 0; r < t.rows(); ++r) {
    EXPECT_EQ(t.row(r), t.data() + r * t.stride());
    EXPECT_EQ(t.row_span(r).data(), t.row(r));
    EXPECT_EQ(t.row_span(r).size(), 20u);
  }
  const Table& c = t;
  EXPECT_EQ(c.row(2), t.row(2));
  EXPECT_EQ(c.row_span(3).size(), 20u);
  EXPECT_EQ(c.data(), t.data());
}

TEST(TableTest, StartsZeroIncludingPadding) {
  Table t("t", 6, 19);
  for (size_t i = 0; i < t.rows() * t.stride(); ++i) ASSERT_EQ(t.data()[i], 0.0f) << i;
}

TEST(TableTest, WritingRowsLeavesPaddingZero) {
  Table t("t", 5, 3);
  for (RowId r = 0; r < t.rows(); ++r) {
    for (float& v : t.row_span(r)) v = 7.5f;
  }
  EXPECT_TRUE(PaddingIsZero(t));
  for (RowId r = 0; r < t.rows(); ++r) {
    for (float v : t.row_span(r)) EXPECT_EQ(v, 7.5f);
  }
}

TEST(TableTest, ZeroClearsValuesAndKeepsPaddingZero) {
  Table t("t", 4, 10);
  FillValues(t);
  t.Zero();
  for (size_t i = 0; i < t.rows() * t.stride(); ++i) ASSERT_EQ(t.data()[i], 0.0f) << i;
}

TEST(TableTest, CopyIsDeep) {
  Table a("a", 3, 5);
  FillValues(a);
  Table b(a);
  EXPECT_EQ(b.name(), "a");
  EXPECT_EQ(b.rows(), 3u);
  EXPECT_EQ(b.dim(), 5u);
  EXPECT_EQ(b.stride(), a.stride());
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  for (RowId r = 0; r < a.rows(); ++r) {
    for (size_t i = 0; i < a.dim(); ++i) EXPECT_EQ(b.row(r)[i], a.row(r)[i]);
  }
  EXPECT_TRUE(PaddingIsZero(b));

  // Changing either side leaves the other as it was.
  a.row(1)[2] = -100.0f;
  EXPECT_EQ(b.row(1)[2], 102.0f + 1);
  b.row(0)[0] = 55.0f;
  EXPECT_EQ(a.row(0)[0], 1.0f);
}

TEST(TableTest, CopyAssignmentIsDeep) {
  Table a("a", 2, 4);
  FillValues(a);
  Table b("b", 9, 33);
  b = a;
  EXPECT_EQ(b.name(), "a");
  EXPECT_EQ(b.rows(), 2u);
  EXPECT_EQ(b.dim(), 4u);
  EXPECT_EQ(b.stride(), 16u);
  EXPECT_NE(b.data(), a.data());
  for (RowId r = 0; r < a.rows(); ++r) {
    for (size_t i = 0; i < a.dim(); ++i) EXPECT_EQ(b.row(r)[i], a.row(r)[i]);
  }
  a.row(1)[3] = 0.0f;
  EXPECT_EQ(b.row(1)[3], 104.0f);

  // Self-assignment keeps the values.
  Table& alias = b;
  b = alias;
  EXPECT_EQ(b.row(1)[3], 104.0f);
}

TEST(TableTest, MoveKeepsTheRows) {
  Table a("a", 2, 3);
  FillValues(a);
  const float* data = a.data();
  Table b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.row(1)[2], 103.0f);
  Table c("c", 1, 1);
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.name(), "a");
  EXPECT_EQ(c.rows(), 2u);
}

TEST(ModelTest, AddTableReturnsIndicesAndZeroFills) {
  Model m;
  EXPECT_EQ(m.num_tables(), 0u);
  EXPECT_EQ(m.AddTable("in", 10, 4), 0u);
  EXPECT_EQ(m.AddTable("out", 3, 20), 1u);
  EXPECT_EQ(m.num_tables(), 2u);
  EXPECT_EQ(m.table(0).name(), "in");
  EXPECT_EQ(m.table(0).rows(), 10u);
  EXPECT_EQ(m.table(0).dim(), 4u);
  EXPECT_EQ(m.table(1).name(), "out");
  EXPECT_EQ(m.table(1).rows(), 3u);
  EXPECT_EQ(m.table(1).dim(), 20u);
  EXPECT_EQ(m.table(1).stride(), 32u);
  for (size_t t = 0; t < m.num_tables(); ++t) {
    const Table& table = m.table(t);
    for (size_t i = 0; i < table.rows() * table.stride(); ++i) ASSERT_EQ(table.data()[i], 0.0f);
  }
}

TEST(ModelTest, FindReturnsIndexOrMinusOne) {
  Model m;
  EXPECT_EQ(m.Find("a"), -1);
  m.AddTable("a", 1, 1);
  m.AddTable("b", 2, 2);
  m.AddTable("c", 3, 3);
  EXPECT_EQ(m.Find("a"), 0);
  EXPECT_EQ(m.Find("b"), 1);
  EXPECT_EQ(m.Find("c"), 2);
  EXPECT_EQ(m.Find("d"), -1);
  EXPECT_EQ(m.Find(""), -1);
  EXPECT_EQ(m.Find("A"), -1);
}

TEST(ModelTest, SubscriptReturnsTheNamedTable) {
  Model m;
  m.AddTable("w", 2, 4);
  m.AddTable("b", 1, 1);
  EXPECT_EQ(&m["w"], &m.table(0));
  EXPECT_EQ(&m["b"], &m.table(1));
  m["w"].row(1)[3] = 2.5f;
  EXPECT_EQ(m.table(0).row(1)[3], 2.5f);
  const Model& c = m;
  EXPECT_EQ(&c["b"], &c.table(1));
  EXPECT_EQ(c["w"].row(1)[3], 2.5f);
}

TEST(ModelDeathTest, DuplicateTableNameAborts) {
  Model m;
  m.AddTable("w", 1, 1);
  EXPECT_DEATH(m.AddTable("w", 2, 2), "check failed");
}

TEST(ModelDeathTest, SubscriptOfMissingTableAborts) {
  Model m;
  m.AddTable("w", 1, 1);
  EXPECT_DEATH(m["nope"], "check failed");
  const Model& c = m;
  EXPECT_DEATH(c["nope"], "check failed");
}

TEST(ModelTest, CopyIsDeep) {
  Model a;
  a.AddTable("x", 3, 2);
  a.AddTable("y", 1, 17);
  FillValues(a.table(0));
  FillValues(a.table(1), 1000.0f);
  Model b = a;
  ASSERT_EQ(b.num_tables(), 2u);
  EXPECT_EQ(b.Find("y"), 1);
  EXPECT_NE(b.table(0).data(), a.table(0).data());
  EXPECT_EQ(b["x"].row(2)[1], 202.0f);
  EXPECT_EQ(b["y"].row(0)[16], 1017.0f);
  a["x"].row(2)[1] = 0.0f;
  EXPECT_EQ(b["x"].row(2)[1], 202.0f);
}

TEST(UpdateTest, StartsEmpty) {
  Update u;
  EXPECT_TRUE(u.empty());
  EXPECT_EQ(u.num_tables(), 0u);
  EXPECT_EQ(u.rows_of(0), nullptr);
}

TEST(UpdateTest, AddRecordsRowsInFirstSeenOrder) {
  Update u;
  const float a[3] = {1, 2, 3};
  const float b[3] = {10, 20, 30};
  u.Add(0, 3, 7, a);
  u.Add(0, 3, 2, b);
  EXPECT_FALSE(u.empty());
  ASSERT_EQ(u.num_tables(), 1u);
  const Update::TableRows* t = u.rows_of(0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->rows, (std::vector<RowId>{7, 2}));
  EXPECT_EQ(t->values, (std::vector<float>{1, 2, 3, 10, 20, 30}));
  EXPECT_EQ(t->index.at(7), 0u);
  EXPECT_EQ(t->index.at(2), 1u);
  EXPECT_EQ(u.rows_of(1), nullptr);
}

TEST(UpdateTest, AddSumsRepeatedRows) {
  Update u;
  const float a[2] = {1.0f, -2.0f};
  const float b[2] = {0.5f, 4.0f};
  const float c[2] = {3.0f, 3.0f};
  u.Add(0, 2, 5, a);
  u.Add(0, 2, 9, c);
  u.Add(0, 2, 5, b);
  u.Add(0, 2, 5, a);
  const Update::TableRows* t = u.rows_of(0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->rows, (std::vector<RowId>{5, 9}));
  // Row 5: {1,-2} + {0.5,4} + {1,-2} = {2.5,0}; row 9: {3,3}.
  EXPECT_EQ(t->values, (std::vector<float>{2.5f, 0.0f, 3.0f, 3.0f}));
  EXPECT_EQ(t->index.size(), 2u);
}

TEST(UpdateTest, AddKeepsTablesApart) {
  Update u;
  const float one[1] = {1.0f};
  const float pair[2] = {4.0f, 5.0f};
  u.Add(2, 2, 0, pair);
  u.Add(0, 1, 0, one);
  u.Add(0, 1, 0, one);
  ASSERT_EQ(u.num_tables(), 3u);
  EXPECT_EQ(u.rows_of(0)->values, (std::vector<float>{2.0f}));
  ASSERT_NE(u.rows_of(1), nullptr);
  EXPECT_TRUE(u.rows_of(1)->rows.empty());
  EXPECT_EQ(u.rows_of(2)->rows, (std::vector<RowId>{0}));
  EXPECT_EQ(u.rows_of(2)->values, (std::vector<float>{4.0f, 5.0f}));
  EXPECT_EQ(u.rows_of(3), nullptr);
}

TEST(UpdateTest, ScaleAndMergeOfEmptyStayEmpty) {
  Update u;
  u.Scale(2.0f);
  EXPECT_TRUE(u.empty());
  Update other;
  Model shape;
  shape.AddTable("a", 1, 1);
  u.Merge(other, shape);
  EXPECT_TRUE(u.empty());
}

TEST(UpdateTest, ScaleMultipliesEveryValue) {
  Update u;
  const float a[2] = {1.0f, -2.0f};
  const float b[3] = {4.0f, 0.0f, 8.0f};
  u.Add(0, 2, 1, a);
  u.Add(1, 3, 0, b);
  u.Scale(0.25f);
  EXPECT_EQ(u.rows_of(0)->values, (std::vector<float>{0.25f, -0.5f}));
  EXPECT_EQ(u.rows_of(1)->values, (std::vector<float>{1.0f, 0.0f, 2.0f}));
  EXPECT_EQ(u.rows_of(0)->rows, (std::vector<RowId>{1}));
}

TEST(UpdateTest, MergeSumsSharedRowsAndAddsNewOnes) {
  Model shape;
  shape.AddTable("a", 10, 2);
  shape.AddTable("b", 10, 3);

  Update x;
  const float x0[2] = {1, 1};
  const float x1[3] = {1, 2, 3};
  x.Add(0, 2, 4, x0);
  x.Add(1, 3, 1, x1);

  Update y;
  const float y0[2] = {2, 3};
  const float y0b[2] = {5, 6};
  const float y1[3] = {10, 10, 10};
  y.Add(0, 2, 4, y0);
  y.Add(0, 2, 8, y0b);
  y.Add(1, 3, 1, y1);

  x.Merge(y, shape);
  EXPECT_EQ(x.rows_of(0)->rows, (std::vector<RowId>{4, 8}));
  EXPECT_EQ(x.rows_of(0)->values, (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(x.rows_of(1)->rows, (std::vector<RowId>{1}));
  EXPECT_EQ(x.rows_of(1)->values, (std::vector<float>{11, 12, 13}));

  // The merged-in update is unchanged.
  EXPECT_EQ(y.rows_of(0)->values, (std::vector<float>{2, 3, 5, 6}));
}

TEST(UpdateTest, MergeIntoEmptyCopies) {
  Model shape;
  shape.AddTable("a", 4, 1);
  shape.AddTable("b", 4, 4);
  Update y;
  const float v[4] = {1, 2, 3, 4};
  y.Add(1, 4, 3, v);
  Update x;
  x.Merge(y, shape);
  x.Merge(y, shape);
  ASSERT_EQ(x.num_tables(), 2u);
  EXPECT_TRUE(x.rows_of(0)->rows.empty());
  EXPECT_EQ(x.rows_of(1)->rows, (std::vector<RowId>{3}));
  EXPECT_EQ(x.rows_of(1)->values, (std::vector<float>{2, 4, 6, 8}));
}

}  // namespace
}  // namespace deepdist
