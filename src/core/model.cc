#include "deepdist/model.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "deepdist/status.h"

namespace deepdist {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;

// Rows 64-byte aligned. Tables of a huge page or more are aligned to 2 MiB
// and offered to the kernel as transparent huge pages: training reads rows
// at random across tables of tens of MiB, and with 4 KiB pages most of those
// reads would also miss the TLB.
float* AllocateRows(size_t rows, size_t stride) {
  size_t bytes = std::max<size_t>(rows * stride * sizeof(float), 64);
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  bytes = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) ::madvise(p, bytes, MADV_HUGEPAGE);  // Advice only: failure is fine.
#endif
  std::memset(p, 0, bytes);
  return static_cast<float*>(p);
}
}  // namespace

void Table::FreeAligned::operator()(float* p) const { std::free(p); }

Table::Table(std::string name, size_t rows, size_t dim)
    : name_(std::move(name)),
      rows_(rows),
      dim_(dim),
      stride_((dim + kRowAlign - 1) / kRowAlign * kRowAlign),
      data_(AllocateRows(rows, stride_)) {}

Table::Table(const Table& other)
    : name_(other.name_),
      rows_(other.rows_),
      dim_(other.dim_),
      stride_(other.stride_),
      data_(AllocateRows(other.rows_, other.stride_)) {
  std::memcpy(data_.get(), other.data_.get(), rows_ * stride_ * sizeof(float));
}

Table& Table::operator=(const Table& other) {
  if (this != &other) *this = Table(other);
  return *this;
}

void Table::Zero() { std::memset(data_.get(), 0, rows_ * stride_ * sizeof(float)); }

size_t Model::AddTable(const std::string& name, size_t rows, size_t dim) {
  DD_CHECK(Find(name) < 0);
  tables_.emplace_back(name, rows, dim);
  return tables_.size() - 1;
}

size_t Model::AddTable(Table table) {
  DD_CHECK(Find(table.name()) < 0);
  tables_.push_back(std::move(table));
  return tables_.size() - 1;
}

int Model::Find(const std::string& name) const {
  for (size_t i = 0; i < tables_.size(); ++i) {
    if (tables_[i].name() == name) return static_cast<int>(i);
  }
  return -1;
}

Table& Model::operator[](const std::string& name) {
  int i = Find(name);
  DD_CHECK(i >= 0);
  return tables_[i];
}

const Table& Model::operator[](const std::string& name) const {
  int i = Find(name);
  DD_CHECK(i >= 0);
  return tables_[i];
}

void Update::Add(size_t table, size_t dim, RowId row, const float* values) {
  if (tables_.size() <= table) tables_.resize(table + 1);
  TableRows& t = tables_[table];
  auto [it, inserted] = t.index.try_emplace(row, t.rows.size());
  if (inserted) {
    t.rows.push_back(row);
    t.values.insert(t.values.end(), values, values + dim);
    return;
  }
  float* dst = t.values.data() + it->second * dim;
  for (size_t i = 0; i < dim; ++i) dst[i] += values[i];
}

void Update::Scale(float factor) {
  for (TableRows& t : tables_) {
    for (float& v : t.values) v *= factor;
  }
}

void Update::Merge(const Update& other, const Model& shape) {
  for (size_t ti = 0; ti < other.tables_.size(); ++ti) {
    const TableRows& t = other.tables_[ti];
    const size_t dim = shape.table(ti).dim();
    for (size_t i = 0; i < t.rows.size(); ++i) Add(ti, dim, t.rows[i], t.values.data() + i * dim);
  }
}

bool Update::empty() const {
  return std::all_of(tables_.begin(), tables_.end(),
                     [](const TableRows& t) { return t.rows.empty(); });
}

}  // namespace deepdist
