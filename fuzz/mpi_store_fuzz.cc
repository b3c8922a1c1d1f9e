// The MPI store's own message handlers (MpiStore::OnMessage and what it
// calls: requests served, replies and acknowledgements taken, progress,
// tasks, snapshot chunks), on any bytes as one message from the other rank
// of two, through a cluster without MPI (MpiCluster::Detached): what the
// store sends back is dropped.
//
// The first input byte picks the store (rank 0 or 1 of 2; the fp32, fp16,
// int8 or int4 wire; SGD, or AdaGrad with its state), the second what
// happens before the message arrives: nothing (the message is a request,
// or a reply nobody asked for), or the store sends a pull, a push, a pull of
// changed rows or a first pull of changed rows from the initial model, and
// the message, its ticket set to that request's, is the answer. The rest is
// the message, its store id set to the store's. A handler must read it without crashing, reading
// out of bounds or allocating what the bytes ask for before it has checked them; what it cannot
// read is an error, never an abort.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/store.h"
#include "src/store/mpi_cluster.h"

namespace deepdist {
namespace {

constexpr int kRanks = 2;
constexpr size_t kStores = 16;  // 2 ranks x 4 wires x 2 rules.
// A store is made afresh after this many messages, so that requests left
// unanswered (or answered with an error nobody waits for) do not pile up.
constexpr int kMessagesPerStore = 512;

Model MakeModel() {
  Model model;
  // A dim of 20 takes the quantized rows' vector loops and their tails.
  const size_t rows[] = {10, 7}, dims[] = {3, 20};
  for (size_t t = 0; t < 2; ++t) {
    Table& table = model.table(model.AddTable("t" + std::to_string(t), rows[t], dims[t]));
    for (size_t r = 0; r < table.rows(); ++r) {
      for (size_t c = 0; c < table.dim(); ++c) {
        table.row(r)[c] = static_cast<float>((r * 7 + c * 3 + t) % 11) * 0.125f - 0.5f;
      }
    }
  }
  return model;
}

// One store and the buffers its requests write into (kept for the store's
// life, so that a reply to an old request never writes into freed memory).
struct Fixture {
  std::unique_ptr<MpiCluster> cluster;
  std::unique_ptr<ParamStore> store;
  int rank = 0;
  int messages = 0;
  std::vector<RowId> remote[2];  // Per table, the rows the other rank owns.
  std::vector<float> pulled[2];
  std::vector<float> pushed[2];
  std::vector<ChangedRows> changed;
};

void Make(Fixture& f, size_t which) {
  f.store.reset();
  f.cluster.reset();
  f.rank = static_cast<int>(which % kRanks);
  const ClusterOptions::Wire wires[] = {ClusterOptions::Wire::kFp32, ClusterOptions::Wire::kFp16,
                                        ClusterOptions::Wire::kInt8, ClusterOptions::Wire::kInt4};
  ClusterOptions options;
  options.wire = wires[(which / kRanks) % 4];
  f.cluster = MpiCluster::Detached(f.rank, kRanks, options);
  const LearningRate lr{0.1f, false};
  std::unique_ptr<Descent> rule;
  if (which / (kRanks * 4) == 0) {
    rule = std::make_unique<Sgd>(lr);
  } else {
    rule = std::make_unique<AdaGrad>(lr);
  }
  f.store = f.cluster->MakeStore(MakeModel(), std::move(rule));
  f.store->SetPlan(1000);
  const Model shape = MakeModel();
  for (size_t t = 0; t < 2; ++t) {
    f.remote[t].clear();
    for (RowId r = 0; r < shape.table(t).rows(); ++r) {
      if (static_cast<int>(r % kRanks) != f.rank) f.remote[t].push_back(r);
    }
    f.pulled[t].assign(f.remote[t].size() * shape.table(t).dim(), 0.0f);
    f.pushed[t].assign(f.remote[t].size() * shape.table(t).dim(), 0.25f);
  }
  f.messages = 0;
}

// The request the store sends before the message, by `what`; its ticket.
Ticket Ask(Fixture& f, uint8_t what) {
  ParamStore& s = *f.store;
  switch (what % 5) {
    case 1: {
      const RowBlock blocks[] = {{0, f.remote[0], f.pulled[0].data(), 0},
                                 {1, f.remote[1], f.pulled[1].data(), 0}};
      return s.Pull(blocks);
    }
    case 2: {
      const ConstRowBlock blocks[] = {{0, f.remote[0], f.pushed[0].data(), 0},
                                      {1, f.remote[1], f.pushed[1].data(), 0}};
      PushOptions options;
      options.kind = what & 0x80 ? PushOptions::Kind::kDelta : PushOptions::Kind::kGradient;
      options.rounded = s.RoundsPushes() && (what & 0x40);
      return s.Push(blocks, options);
    }
    case 3:
    case 4: {
      const uint32_t client = s.NewClient();
      f.changed.assign(2, ChangedRows{});
      for (size_t t = 0; t < 2; ++t) {
        f.changed[t].table = t;
        f.changed[t].begin = 0;
        f.changed[t].end = s.rows(t);
        f.changed[t].from_initial = what % 5 == 4 && s.initial_model() != nullptr;
      }
      return s.PullChanged(client, f.changed);
    }
    default:
      return 0;
  }
}

}  // namespace
}  // namespace deepdist

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepdist;
  static std::array<Fixture, kStores> fixtures;
  if (size < 2) return 0;
  const size_t which = data[0] % kStores;
  Fixture& f = fixtures[which];
  if (f.store == nullptr || ++f.messages > kMessagesPerStore) Make(f, which);
  std::string message(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Ticket ticket = Ask(f, data[1]);
  // The header's store id is the store's (a message for a store that is
  // gone is dropped unread), and a reply's ticket follows the header.
  if (message.size() >= 4) message[2] = message[3] = 0;
  if (ticket != 0 && message.size() >= 12) std::memcpy(message.data() + 4, &ticket, 8);
  const int source = 1 - f.rank;
  (void)f.cluster->Deliver(source, message);
  return 0;
}
