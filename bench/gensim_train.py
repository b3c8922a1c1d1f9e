#!/usr/bin/python3
"""Trains gensim's Word2Vec with the same settings as a deepdist run.

Part of deepdist's peers benchmark (bench/peers.sh): gensim is one of the reference
trainers deepdist is compared with, for speed, memory and analogy accuracy.

    gensim_train.py --corpus-file PATH --output OUT.bin [--sg 1|0] [--dim 100]
                    [--window 5] [--negative 5] [--sample 1e-4] [--min-count 5]
                    [--alpha 0.025] [--epochs 1] [--threads 2] [--seed 1]

The corpus is read with gensim's corpus_file mode (its fast, multi-threaded Cython
reader), which wants sentences as lines: give it the corpus split into lines of 1000
words (the sentence length word2vec.c uses too), not text8's single line.
Vectors are written in word2vec binary format, words in descending frequency order.

Prints one JSON line:
    {"words": corpus words processed (corpus words * epochs), "train_seconds": s,
     "vocab_seconds": s, "words_per_second": words / train_seconds, "vocab_size": n}
train_seconds covers training only; the vocabulary scan and the save are timed apart
(vocab_seconds) or not at all. The benchmark's own words/s uses the wall time of the
whole process instead.

Runs under Debian's gensim (python3-gensim, 4.x): /usr/bin/python3.
"""

import argparse
import json
import sys
import time

from gensim.models import Word2Vec
from gensim.models import word2vec


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-file", "--corpus_file", "--input", dest="corpus_file",
                        required=True, help="corpus, one sentence per line, words separated by spaces")
    parser.add_argument("--output", required=True, help="vectors file to write (word2vec binary)")
    parser.add_argument("--sg", type=int, choices=[0, 1], default=1, help="1: skip-gram, 0: CBOW")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--hs", type=int, choices=[0, 1], default=0,
                        help="1: hierarchical softmax (use with --negative 0)")
    parser.add_argument("--sample", type=float, default=1e-4)
    parser.add_argument("--min-count", "--min_count", dest="min_count", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=0.025)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if getattr(word2vec, "CORPUSFILE_VERSION", -1) < 0:
        print("gensim_train.py: this gensim has no corpus_file support (compiled "
              "word2vec_corpusfile missing)", file=sys.stderr)
        return 1

    model = Word2Vec(sg=args.sg, vector_size=args.dim, window=args.window,
                     negative=args.negative, hs=args.hs, sample=args.sample,
                     min_count=args.min_count, alpha=args.alpha, epochs=args.epochs,
                     workers=args.threads, seed=args.seed)
    start = time.perf_counter()
    model.build_vocab(corpus_file=args.corpus_file)
    vocab_seconds = time.perf_counter() - start

    start = time.perf_counter()
    model.train(corpus_file=args.corpus_file, total_words=model.corpus_total_words,
                total_examples=model.corpus_count, epochs=args.epochs)
    train_seconds = time.perf_counter() - start

    model.wv.save_word2vec_format(args.output, binary=True)

    words = model.corpus_total_words * args.epochs
    print(json.dumps({
        "words": words,
        "train_seconds": round(train_seconds, 3),
        "vocab_seconds": round(vocab_seconds, 3),
        "words_per_second": round(words / train_seconds) if train_seconds > 0 else None,
        "vocab_size": len(model.wv),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
