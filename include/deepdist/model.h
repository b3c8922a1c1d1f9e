// Model: the master model, a set of named tables of float rows.
//
// A Table is rows x dim float32 values, each row padded to a multiple of
// kRowAlign floats (the padding stays zero) so that SIMD kernels run over whole
// vectors with aligned loads. A Model owns its tables; copying a Model copies
// every table (that is how a worker's replica is made). Neither class is
// thread-safe by itself: the ParamStore that holds the master model says who
// may touch which rows when.
#ifndef DEEPDIST_MODEL_H_
#define DEEPDIST_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace deepdist {

using RowId = uint64_t;

class Table {
 public:
  static constexpr size_t kRowAlign = 16;  // floats: one AVX-512 vector.

  Table(std::string name, size_t rows, size_t dim);
  Table(const Table& other);
  Table& operator=(const Table& other);
  Table(Table&&) noexcept = default;
  Table& operator=(Table&&) noexcept = default;

  const std::string& name() const { return name_; }
  size_t rows() const { return rows_; }
  size_t dim() const { return dim_; }
  // Floats between the starts of two consecutive rows (dim rounded up).
  size_t stride() const { return stride_; }

  float* row(RowId r) { return data_.get() + r * stride_; }
  const float* row(RowId r) const { return data_.get() + r * stride_; }
  std::span<float> row_span(RowId r) { return {row(r), dim_}; }
  std::span<const float> row_span(RowId r) const { return {row(r), dim_}; }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }

  // Sets every value (not the padding) to zero.
  void Zero();

 private:
  struct FreeAligned {
    void operator()(float* p) const;
  };
  std::string name_;
  size_t rows_ = 0;
  size_t dim_ = 0;
  size_t stride_ = 0;
  std::unique_ptr<float[], FreeAligned> data_;
};

class Model {
 public:
  Model() = default;

  // Adds a zero-filled table; the name must be new. Returns its index.
  size_t AddTable(const std::string& name, size_t rows, size_t dim);
  // Adds `table` as it is; its name must be new. Returns its index.
  size_t AddTable(Table table);
  size_t num_tables() const { return tables_.size(); }
  Table& table(size_t index) { return tables_[index]; }
  const Table& table(size_t index) const { return tables_[index]; }
  // The index of the named table, or -1 when there is none.
  int Find(const std::string& name) const;
  Table& operator[](const std::string& name);
  const Table& operator[](const std::string& name) const;

 private:
  std::vector<Table> tables_;
};

// A sparse change to a model: for some rows of some tables, a vector of dim
// values (a gradient, or a delta: the descent rule that reads it decides).
// Adding to a row that is already present sums into it.
class Update {
 public:
  struct TableRows {
    std::vector<RowId> rows;
    std::vector<float> values;  // rows.size() * dim, row-major, no padding.
    std::unordered_map<RowId, size_t> index;
  };

  // Adds values (dim floats) to row `row` of table `table`.
  void Add(size_t table, size_t dim, RowId row, const float* values);
  // Multiplies every value by `factor`.
  void Scale(float factor);
  // Sums another update into this one.
  void Merge(const Update& other, const Model& shape);

  bool empty() const;
  size_t num_tables() const { return tables_.size(); }
  const TableRows* rows_of(size_t table) const {
    return table < tables_.size() ? &tables_[table] : nullptr;
  }

 private:
  std::vector<TableRows> tables_;
};

}  // namespace deepdist

#endif  // DEEPDIST_MODEL_H_
