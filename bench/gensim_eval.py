#!/usr/bin/python3
"""Scores a word2vec vectors file with gensim's analogy evaluator.

Part of deepdist's peers benchmark (bench/peers.sh): it gives one reference scorer for
the vectors of every trainer compared (deepdist, gensim, fastText), so that accuracy
differences come from training, not from evaluation code.

    gensim_eval.py VECTORS QUESTIONS [--binary auto|yes|no] [--restrict 30000]

VECTORS is in word2vec format (binary, or text with a "count dim" header line), words in
descending frequency order. With --binary auto (the default) a file ending in .txt or
.vec is read as text and anything else as binary.

Prints one JSON line:
    {"accuracy": fraction, "correct": n, "total": n, "king_queen_rank": r}
accuracy is top-1 3CosAdd over unit vectors, questions lowercased, only the `restrict`
most frequent words searched and only questions whose four words are all among them
counted (gensim's evaluate_word_analogies, the convention of word2vec's
compute-accuracy). king_queen_rank is queen's 1-based rank in the top 10 answers of
king - man + woman over the whole vocabulary, or null when it is not there.

Runs under Debian's gensim (python3-gensim, 4.x): /usr/bin/python3.
"""

import argparse
import json
import sys

from gensim.models import KeyedVectors


def is_binary(path, mode):
    if mode == "yes":
        return True
    if mode == "no":
        return False
    return not path.lower().endswith((".txt", ".vec"))


def king_queen_rank(kv):
    try:
        answers = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=10)
    except KeyError:  # one of the three words is not in the vocabulary
        return None
    for rank, (word, _score) in enumerate(answers, start=1):
        if word == "queen":
            return rank
    return None


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vectors", help="word2vec-format vectors file")
    parser.add_argument("questions", help="analogy questions (questions-words.txt)")
    parser.add_argument("--binary", choices=["auto", "yes", "no"], default="auto",
                        help="vectors file format (default: auto, from the file name)")
    parser.add_argument("--restrict", type=int, default=30000,
                        help="search only the N most frequent words (default 30000)")
    args = parser.parse_args(argv)

    kv = KeyedVectors.load_word2vec_format(
        args.vectors, binary=is_binary(args.vectors, args.binary), unicode_errors="ignore")
    _score, sections = kv.evaluate_word_analogies(
        args.questions, restrict_vocab=args.restrict, case_insensitive=True)
    # The last section is gensim's "Total accuracy" over all counted questions.
    total = sections[-1]
    correct = len(total["correct"])
    counted = correct + len(total["incorrect"])
    print(json.dumps({
        "accuracy": correct / counted if counted else 0.0,
        "correct": correct,
        "total": counted,
        "king_queen_rank": king_queen_rank(kv),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
