// word2vec in a few lines, as the seed's quick start: count the vocabulary,
// start a DeepDist scope on the model, train skip-gram through it, save the
// vectors.   word2vec_train CORPUS OUT.bin
// Under mpirun every rank runs the same lines (each trains its share; the
// counts are merged first by the command-line tool, so this example counts
// on every rank and must be given the same corpus everywhere).
#include <cstdio>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/word2vec/trainer.h"
#include "deepdist/word2vec/vectors.h"

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: word2vec_train CORPUS OUT.bin\n"), 2;
  using namespace deepdist;
  auto cluster = JoinCluster();  // One process unless started by mpirun.
  if (!cluster.ok()) return std::fprintf(stderr, "%s\n", cluster.status().message().c_str()), 1;
  auto parts = ListPartitions({argv[1]}, {.target_partitions = 4});
  if (!parts.ok()) return std::fprintf(stderr, "%s\n", parts.status().message().c_str()), 1;
  auto vocab = word2vec::Vocabulary::Count(*parts, {.min_count = 5, .threads = 4});
  if (!vocab.ok() || vocab->size() == 0) return std::fprintf(stderr, "no vocabulary\n"), 1;

  word2vec::Trainer trainer(*vocab, {.epochs = 1, .threads = 2});
  DeepDist dd(trainer.NewModel(), {.threads = 2, .epochs = 1, .cluster = cluster->get()});
  Sgd sgd(trainer.Schedule());
  auto stats = trainer.Train(*parts, dd, sgd);  // dd.train(partitions, workers, descent)
  if (!stats.ok()) return std::fprintf(stderr, "%s\n", stats.status().message().c_str()), 1;
  if ((*cluster)->rank() != 0) return 0;  // Rank 0 holds the trained model.
  Status saved =
      word2vec::SaveVectors(argv[2], word2vec::VectorFormat::kBinary, *vocab, dd.model()["in"]);
  std::printf("%llu words, loss %.4f\n", static_cast<unsigned long long>(stats->words),
              stats->loss);
  return saved.ok() ? 0 : 1;
}
