// word2vec in a few lines: count the vocabulary, train skip-gram on the
// embedded model server, save the vectors.   word2vec_train CORPUS OUT.bin
#include <cstdio>

#include "deepdist/word2vec/trainer.h"
#include "deepdist/word2vec/vectors.h"

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: word2vec_train CORPUS OUT.bin\n"), 2;
  using namespace deepdist;
  auto parts = ListPartitions({argv[1]}, {.target_partitions = 4});
  if (!parts.ok()) return std::fprintf(stderr, "%s\n", parts.status().message().c_str()), 1;
  auto vocab = word2vec::Vocabulary::Count(*parts, {.min_count = 5, .threads = 4});
  if (!vocab.ok() || vocab->size() == 0) return std::fprintf(stderr, "no vocabulary\n"), 1;
  word2vec::Trainer trainer(*vocab, {.epochs = 1, .threads = 4});
  LocalStore store(trainer.NewModel(), std::make_unique<Sgd>(LearningRate{0.025f}));
  auto stats = trainer.Train(*parts, store);
  if (!stats.ok()) return std::fprintf(stderr, "%s\n", stats.status().message().c_str()), 1;
  Status saved =
      word2vec::SaveVectors(argv[2], word2vec::VectorFormat::kBinary, *vocab, store.model()["in"]);
  std::printf("%llu words, loss %.4f\n", static_cast<unsigned long long>(stats->words),
              stats->loss);
  return saved.ok() ? 0 : 1;
}
