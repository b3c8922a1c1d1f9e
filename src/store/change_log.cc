#include "src/store/change_log.h"

#include <bit>
#include <utility>

#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {

ChangeLog::ChangeLog(std::vector<size_t> rows) : rows_(std::move(rows)) {}

void ChangeLog::Mark(size_t table, std::span<const RowId> rows, uint32_t by, bool by_too) {
  if (!any_.load(std::memory_order_acquire) || rows.empty()) return;
  std::lock_guard lock(mu_);
  for (auto& [client, tables] : clients_) {
    if (client == by && !by_too) continue;
    std::vector<uint64_t>& bits = tables[table];
    for (RowId r : rows) bits[r / 64] |= uint64_t{1} << (r % 64);
  }
}

void ChangeLog::Take(uint32_t client, size_t table, RowId begin, RowId end,
                     std::vector<RowId>* out) {
  DD_CHECK(table < rows_.size() && client != kNoClient);
  end = std::min<RowId>(end, rows_[table]);
  std::lock_guard lock(mu_);
  auto [it, fresh] = clients_.try_emplace(client);
  if (fresh) {
    // Every row unseen: the first Take is the client's initial load.
    for (size_t t = 0; t < rows_.size(); ++t) {
      std::vector<uint64_t>& bits = it->second.emplace_back((rows_[t] + 63) / 64, ~uint64_t{0});
      if (rows_[t] % 64 != 0) bits.back() = (uint64_t{1} << (rows_[t] % 64)) - 1;
    }
    any_.store(true, std::memory_order_release);
  }
  std::vector<uint64_t>& bits = it->second[table];
  for (RowId r = begin; r < end;) {
    const size_t word = r / 64;
    const RowId word_end = std::min<RowId>(end, (word + 1) * 64);
    // The bits of [r, word_end) in this word.
    const unsigned lo = r % 64;
    const unsigned hi = static_cast<unsigned>(word_end - word * 64);
    const uint64_t mask =
        (hi == 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1) & ~((uint64_t{1} << lo) - 1);
    uint64_t taken = bits[word] & mask;
    bits[word] &= ~mask;
    while (taken != 0) {
      out->push_back(word * 64 + static_cast<RowId>(std::countr_zero(taken)));
      taken &= taken - 1;
    }
    r = word_end;
  }
}

}  // namespace deepdist
