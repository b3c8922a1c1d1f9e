"""word2vec with gensim's argument names, trained by the engine as
``deepdist word2vec train`` trains it.

    model = deepdist.Word2Vec("data/corpus.txt", workers=2)
    model.wv.most_similar(positive=["king", "woman"], negative=["man"])

The defaults are the CLI's (skip-gram, sample=1e-4, alpha 0.025 decaying to
alpha / (4 * epochs), one worker per hardware thread), not gensim's: the same
settings, one worker and one seed give the CLI's vectors exactly.
"""

import logging
import math
import numbers
import os
import tempfile

from . import _deepdist
from .keyed_vectors import KeyedVectors

logger = logging.getLogger("deepdist")

# gensim arguments deepdist does not have; giving one is a ValueError.
_UNSUPPORTED = {
    "hashfxn": "deepdist draws its own random numbers from seed",
    "null_word": "deepdist adds no null word",
    "trim_rule": "deepdist keeps the words that occur min_count times",
    "batch_words": "deepdist's workers take whole partitions",
    "compute_loss": "deepdist always computes the loss (model.summary['loss'])",
    "callbacks": "deepdist reports progress through the logger \"deepdist\"",
    "comment": "deepdist keeps no lifecycle comments",
    "max_final_vocab": "deepdist prunes by min_count and max_vocab_size only",
}

# gensim arguments whose only value deepdist has is gensim's default.
_FIXED = {
    "cbow_mean": 1,        # CBOW averages its context vectors.
    "ns_exponent": 0.75,   # Negatives drawn from unigram counts ** 0.75.
    "sorted_vocab": 1,     # Rows in descending frequency.
    "shrink_windows": True,  # Each window's size drawn in 1..window.
}


def _int_in(name, value, low, high):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}: must be between {low} and {high}, not {value!r}")
    return int(value)


def _rate(name, value):
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or not 0 < value < 10:
        raise ValueError(f"{name}: must be in (0, 10), not {value!r}")
    return float(value)


class Word2Vec:
    """Trains word vectors on ``corpus`` in the constructor.

    corpus: a path (a text file, a directory of part files, or a .gz file; a
    line is a sentence) or an iterable of sentences, each a list of string
    tokens (written to a temporary text file, one sentence a line, which is
    trained on and removed; so a generator is read once). gensim's names
    ``sentences=`` (an iterable) and ``corpus_file=`` (a path) work too.

    sg: 1 skip-gram, 0 CBOW. hs: 1 hierarchical softmax (then negative must
    be 0), 0 negative sampling with ``negative`` words. workers: threads (per
    rank under mpirun). alpha, min_alpha: the learning rate's linear decay
    (default 0.025 for skip-gram, 0.05 for CBOW, to alpha / (4 * epochs) for
    skip-gram and alpha / (2 * epochs) for CBOW). max_vocab_size: the most
    distinct words counting holds (rarer ones pruned past it, as gensim
    does). The GIL is released while it trains.

    After training: ``wv`` (a KeyedVectors), ``syn1neg`` (or ``syn1`` with
    hs=1: the output weights, a read-only view), ``summary`` (words,
    seconds, words_per_second, vocab_size, loss, ... as the CLI's --json).
    Under mpirun every rank trains its share and rank 0's ``wv`` holds the
    vectors; the other ranks' is empty.
    """

    def __init__(self, corpus=None, *, sentences=None, corpus_file=None, vector_size=100,
                 alpha=None, window=5, min_count=5, max_vocab_size=None, sample=1e-4, seed=1,
                 workers=None, min_alpha=None, sg=1, hs=0, negative=5, epochs=5,
                 cbow_mean=1, ns_exponent=0.75, sorted_vocab=1, shrink_windows=True, **kwargs):
        for name in kwargs:
            if name in _UNSUPPORTED:
                raise ValueError(f"{name}: not supported by deepdist.Word2Vec "
                                 f"({_UNSUPPORTED[name]})")
            raise TypeError(f"Word2Vec() got an unexpected keyword argument '{name}'")
        fixed = {"cbow_mean": cbow_mean, "ns_exponent": ns_exponent,
                 "sorted_vocab": sorted_vocab, "shrink_windows": shrink_windows}
        for name, value in fixed.items():
            if value != _FIXED[name]:
                raise ValueError(f"{name}: deepdist supports only {name}={_FIXED[name]!r}")

        given = [c for c in (corpus, sentences, corpus_file) if c is not None]
        if len(given) != 1:
            raise ValueError("corpus: give exactly one of corpus, sentences and corpus_file "
                             "(deepdist trains in the constructor)")
        if corpus_file is not None and not isinstance(corpus_file, (str, os.PathLike)):
            raise ValueError("corpus_file: must be a path")
        if sentences is not None and isinstance(sentences, (str, os.PathLike)):
            raise ValueError("sentences: must be an iterable of token lists; a path goes as "
                             "corpus_file")

        s = _deepdist.Word2VecSettings()
        self.sg = _int_in("sg", sg, 0, 1)
        self.hs = _int_in("hs", hs, 0, 1)
        if self.hs:
            if negative != 0:
                raise ValueError("negative: hierarchical softmax (hs=1) draws no negatives; "
                                 "pass negative=0")
            self.negative = 0
        else:
            self.negative = _int_in("negative", negative, 1, 1000)
        self.vector_size = _int_in("vector_size", vector_size, 1, 10000)
        self.window = _int_in("window", window, 1, 1000)
        if not isinstance(sample, numbers.Real) or not 0 <= sample < 1:
            raise ValueError(f"sample: must be in [0, 1), not {sample!r}")
        self.sample = float(sample)
        self.min_count = _int_in("min_count", min_count, 1, 2**62)
        self.max_vocab_size = (None if max_vocab_size is None
                               else _int_in("max_vocab_size", max_vocab_size, 1, 2**62))
        self.epochs = _int_in("epochs", epochs, 1, 100000)
        self.workers = None if workers is None else _int_in("workers", workers, 1, 4096)
        self.seed = _int_in("seed", seed, 0, 2**64 - 1)
        self.alpha = _rate("alpha", alpha) if alpha is not None else (0.025 if self.sg else 0.05)
        if min_alpha is not None:
            self.min_alpha = _rate("min_alpha", min_alpha)
            if self.min_alpha > self.alpha:
                raise ValueError("min_alpha: must not exceed alpha")
        else:
            self.min_alpha = self.alpha / ((4 if self.sg else 2) * self.epochs)

        s.cbow = not self.sg
        s.hierarchical_softmax = bool(self.hs)
        s.negative = self.negative
        s.dim = self.vector_size
        s.window = self.window
        s.sample = self.sample
        s.min_count = self.min_count
        s.max_entries = self.max_vocab_size or 0
        s.epochs = self.epochs
        s.threads = self.workers or 0
        s.seed = self.seed
        s.alpha = self.alpha
        s.min_alpha = self.min_alpha if min_alpha is not None else 0.0

        path = corpus_file if corpus_file is not None else corpus
        if sentences is not None or not isinstance(path, (str, os.PathLike)):
            self._train_on_iterable(s, sentences if sentences is not None else corpus)
        else:
            self._train(s, [os.fspath(path)])

    def _train_on_iterable(self, settings, sentences):
        try:
            iterator = iter(sentences)
        except TypeError:
            raise ValueError("corpus: must be a path or an iterable of token lists, not "
                             f"{type(sentences).__name__}") from None
        fd, path = tempfile.mkstemp(prefix="deepdist-corpus-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for number, sentence in enumerate(iterator):
                    if isinstance(sentence, (str, bytes)):
                        raise ValueError(f"corpus: sentence {number} is a string, not a list of "
                                         "tokens (a path goes as corpus='file.txt')")
                    tokens = list(sentence)
                    for token in tokens:
                        if not isinstance(token, str) or token.split() != [token]:
                            raise ValueError(f"corpus: sentence {number}: token {token!r} is not "
                                             "a non-empty string without white space")
                    out.write(" ".join(tokens))
                    out.write("\n")
            self._train(settings, [path])
        finally:
            os.unlink(path)

    def _train(self, settings, inputs):
        settings.inputs = inputs
        core, out, summary = _deepdist.train_word2vec(settings)
        self.wv = KeyedVectors(core)
        if self.hs:
            self.syn1 = out
        else:
            self.syn1neg = out
        self.summary = summary
        self.workers = summary["threads"]
        self.corpus_total_words = summary["corpus_words"]
        if summary["rank"] == 0:
            logger.info(
                "trained %s on %d words in %.1f s (%.0f words/s), %d words in the vocabulary, "
                "final loss %.4f", "skip-gram" if self.sg else "CBOW", summary["words"],
                summary["seconds"], summary["words_per_second"], summary["vocab_size"],
                summary["loss"])

    def __repr__(self):
        return (f"Word2Vec<vocab={len(self.wv)}, vector_size={self.vector_size}, "
                f"alpha={self.alpha}>")
