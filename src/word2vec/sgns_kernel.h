// The word2vec training kernel: skip-gram and CBOW with negative sampling
// (or hierarchical softmax, KernelConfig::tree), one sentence at a time, with word2vec.c's reduced random windows. Two
// families: word2vec.c's per-pair updates (shared_negatives = false, the
// reference), and the batched kernels (shared_negatives = true, the default
// of the trainer), which score each window as one small matrix product in
// registers and update its rows together from the old values.
//
// The arithmetic is vectorised with Google Highway and dispatched at run time
// (SSE4, AVX2 or AVX-512, whichever the CPU has), once per sentence. Rows are
// padded to a multiple of 16 floats, so every loop runs over whole vectors.
//
// Rows come from a RowSource: either the master tables themselves (Hogwild:
// remap is null, and concurrent workers race on shared rows by design) or a
// worker's replica of pulled rows, with remap[word] its row in the replica.
// Rows move by SGD, or by AdaGrad with accumulators beside them (Hogwild
// AdaGrad: the rule's state races as the rows do).
// TrainSentence is thread-safe for distinct rng states and scratch buffers.
#ifndef DEEPDIST_SRC_WORD2VEC_SGNS_KERNEL_H_
#define DEEPDIST_SRC_WORD2VEC_SGNS_KERNEL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/word2vec/huffman.h"
#include "src/word2vec/negative_table.h"

namespace deepdist::word2vec {

struct KernelConfig {
  bool cbow = false;
  int window = 5;
  int negative = 5;
  size_t stride = 0;  // Floats per row, a multiple of 16.
  const NegativeTable* negatives = nullptr;
  // The batched kernels. Skip-gram shares negatives across the window (Ji et
  // al. 2016): the window's context vectors all score against the same
  // 1 + negative output rows, read once, instead of each context drawing
  // its own negatives. CBOW scores the window's mean context vector against
  // its centre word and negatives at once; see also cbow_batch.
  bool shared_negatives = false;
  // Batched CBOW: this many consecutive windows (1 to kMaxCbowBatch) score
  // against one draw of negatives, each window's mean context vector against
  // its own centre word and the shared negatives. More than 1 costs accuracy
  // (docs/BENCHMARKS.md), so the trainer keeps 1.
  int cbow_batch = 1;
  // Hierarchical softmax instead of negative sampling, when set: each
  // (input, word) pair trains the inner nodes on the word's path, whose
  // output rows are the tree's node rows (HuffmanTree). Always pair by pair,
  // as word2vec.c: `negative`, `negatives` and `shared_negatives` are unused.
  const HuffmanTree* tree = nullptr;
};

inline constexpr int kMaxCbowBatch = 16;

// Floats of scratch memory TrainSentence needs for `config`.
size_t ScratchFloats(const KernelConfig& config);

struct RowSource {
  float* in = nullptr;             // Input (syn0) rows.
  float* out = nullptr;            // Output (syn1neg) rows.
  const int32_t* remap = nullptr;  // Word id -> row, or null for identity.
  // When set, word id -> 1 for each word whose input (output) row the
  // kernel changed (a full replica's marks, Replica::touched); a word may
  // be marked whose row did not change.
  uint8_t* touched_in = nullptr;
  uint8_t* touched_out = nullptr;
  // AdaGrad in place: when set (both), each row's accumulators, laid out as
  // the rows (same stride and remap). The kernel then computes the plain
  // gradient of each update and moves every row by AdaGrad at rate alpha
  // (AdaGrad::ApplyRow's rule), one step per row per update where SGD adds
  // alpha times the gradient.
  float* in_state = nullptr;
  float* out_state = nullptr;
};

struct KernelStats {
  double loss = 0;     // Sum of the negative log-likelihood over pairs.
  uint64_t pairs = 0;  // (input, target) pairs trained, negatives included.
  // Input rows trained: context words (skip-gram) or the context rows
  // averaged into a window's mean and updated back (CBOW).
  uint64_t inputs = 0;
};

// Trains on words[0, n) (subsampled word ids) with learning rate alpha.
// scratch holds ScratchFloats(config) floats.
void TrainSentence(const KernelConfig& config, const int32_t* words, size_t n, float alpha,
                   uint64_t* rng, const RowSource& rows, float* scratch, KernelStats* stats);

// Makes the same random choices as TrainSentence from the same rng state and
// appends every word id whose rows it would touch (duplicates included).
void PlanSentence(const KernelConfig& config, const int32_t* words, size_t n, uint64_t* rng,
                  std::vector<int32_t>* touched);

// The name of the SIMD target TrainSentence runs on this CPU ("AVX3", ...).
const char* KernelTarget();

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_SRC_WORD2VEC_SGNS_KERNEL_H_
