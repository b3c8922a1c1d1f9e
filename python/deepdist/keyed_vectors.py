"""Word vectors: lookups, nearest neighbours, analogies and the word2vec file
formats, with gensim's KeyedVectors names.

The vectors stay in the engine's memory: ``vectors`` is a read-only numpy
view of it (rows padded for SIMD, hence the strides), kept alive by the
object. Queries search unit-length copies made at the first query.
"""

import logging
import os

import numpy as np

from . import _deepdist

logger = logging.getLogger("deepdist")


def _check_unsupported(given):
    """Raises ValueError naming the first gensim argument given a value
    deepdist does not support."""
    for name, (value, default) in given.items():
        if value != default:
            raise ValueError(f"{name}: deepdist supports only {name}={default!r}")


class KeyedVectors:
    """Vectors by word, most frequent word first (row i is index_to_key[i])."""

    def __init__(self, core):
        self._core = core
        self.index_to_key = core.words()
        self.key_to_index = {word: i for i, word in enumerate(self.index_to_key)}
        self._vectors = core.vectors()
        self._counts = core.counts() if core.with_counts else None

    # --- lookups -------------------------------------------------------------

    @property
    def vectors(self):
        """All vectors, a read-only (words x vector_size) float32 view."""
        return self._vectors

    @property
    def vector_size(self):
        return self._core.dim

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def has_index_for(self, key):
        return key in self.key_to_index

    def get_index(self, key, default=None):
        """The row of ``key``; ``default`` or KeyError when it has none."""
        index = self.key_to_index.get(key)
        if index is not None:
            return index
        if default is not None:
            return default
        raise KeyError(f"Key '{key}' not present")

    def get_vector(self, key, norm=False):
        """The vector of ``key`` (a read-only view; unit length with norm=True)."""
        index = self.get_index(key)
        return self.get_normed_vectors()[index] if norm else self._vectors[index]

    def __getitem__(self, keys):
        """The vector of a word, or a 2-D array of the vectors of a list of words."""
        if isinstance(keys, str):
            return self.get_vector(keys)
        return np.vstack([self.get_vector(key) for key in keys])

    def get_vecattr(self, key, attr):
        """The word's ``count`` in the training corpus (trained vectors only)."""
        if attr != "count":
            raise ValueError(f"attr: deepdist keeps only 'count', not {attr!r}")
        if self._counts is None:
            raise ValueError("attr: these vectors were loaded from a file and have no counts")
        return int(self._counts[self.get_index(key)])

    def get_normed_vectors(self):
        """The vectors scaled to unit length (a read-only view, made once)."""
        return self._core.unit_vectors()

    # --- similarity ----------------------------------------------------------

    def similarity(self, w1, w2):
        """Cosine similarity of two words."""
        unit = self.get_normed_vectors()
        return float(np.dot(unit[self.get_index(w1)], unit[self.get_index(w2)]))

    def _words(self, name, words):
        if words is None:
            return []
        if isinstance(words, str):
            words = [words]
        indices = []
        for word in words:
            if not isinstance(word, str):
                raise TypeError(f"{name}: deepdist takes words, not {type(word).__name__}")
            indices.append(self.get_index(word))
        return indices

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None,
                     indexer=None):
        """The ``topn`` words nearest by cosine to the mean of the unit vectors
        of ``positive`` minus those of ``negative`` (3CosAdd), the given words
        left out: a list of (word, similarity), best first. ``restrict_vocab``
        searches only the first so many rows."""
        if indexer is not None:
            raise ValueError("indexer: deepdist searches every row; it takes no indexer")
        if not isinstance(topn, int) or isinstance(topn, bool) or topn < 1:
            raise ValueError(f"topn: must be a positive number, not {topn!r}")
        if restrict_vocab is not None and (not isinstance(restrict_vocab, int) or restrict_vocab < 1):
            raise ValueError(f"restrict_vocab: must be a positive number, not {restrict_vocab!r}")
        pos = self._words("positive", positive)
        neg = self._words("negative", negative)
        if not pos and not neg:
            raise ValueError("positive: cannot compute similarity with no input")
        return self._core.most_similar(pos, neg, topn, restrict_vocab or 0)

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True,
                                dummy4unknown=False, similarity_function="most_similar"):
        """Analogy accuracy as gensim computes it: returns (score, sections),
        sections a list of dicts with 'section', 'correct' and 'incorrect'
        (lists of the (a, b, c, expected) questions, uppercased), the last one
        'Total accuracy'. Only the first ``restrict_vocab`` words are searched
        and a question counts only when its four words are among them (with
        ``dummy4unknown`` the others count as incorrect)."""
        if not case_insensitive:
            raise ValueError("case_insensitive: deepdist evaluates analogies case-insensitively "
                             "only (case_insensitive=True)")
        if similarity_function != "most_similar":
            raise ValueError("similarity_function: deepdist supports only 'most_similar'")
        if not isinstance(restrict_vocab, int) or restrict_vocab < 1:
            raise ValueError(f"restrict_vocab: must be a positive number, not {restrict_vocab!r}")
        names, questions = self._core.evaluate_each(os.fspath(analogies), restrict_vocab)
        sections = [{"section": name, "correct": [], "incorrect": []} for name in names]
        skipped = 0
        for section, a, b, c, expected, kind in questions:
            quad = (a.upper(), b.upper(), c.upper(), expected.upper())
            if kind == 2:
                sections[section]["correct"].append(quad)
            elif kind == 1 or dummy4unknown:
                sections[section]["incorrect"].append(quad)
            if kind == 0:
                skipped += 1
        for section in sections:
            _log_section(section)
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        if questions:
            logger.info("Quadruplets with out-of-vocabulary words: %.1f%%",
                        100.0 * skipped / len(questions))
        score = _log_section(total)
        sections.append(total)
        return score, sections

    # --- files ---------------------------------------------------------------

    def save_word2vec_format(self, fname, fvocab=None, binary=False, total_vec=None,
                             write_header=True, prefix="", append=False, sort_attr="count"):
        """Writes the vectors in word2vec's binary or text format (atomically),
        most frequent first; with ``fvocab`` also the "word count" lines."""
        _check_unsupported({
            "total_vec": (total_vec, None),
            "write_header": (write_header, True),
            "prefix": (prefix, ""),
            "append": (append, False),
            "sort_attr": (sort_attr, "count"),
        })
        self._core.save(os.fspath(fname), bool(binary),
                        os.fspath(fvocab) if fvocab is not None else "")

    @classmethod
    def load_word2vec_format(cls, fname, fvocab=None, binary=None, encoding="utf8",
                             unicode_errors="strict", limit=None, datatype=np.float32,
                             no_header=False):
        """Reads a word2vec binary or text file (the format is told from the
        file; ``binary``, when given, must agree with it); only the first
        ``limit`` vectors when given."""
        _check_unsupported({
            "fvocab": (fvocab, None),
            "encoding": (encoding, "utf8"),
            "unicode_errors": (unicode_errors, "strict"),
            "datatype": (datatype, np.float32),
            "no_header": (no_header, False),
        })
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit: must be a positive number, not {limit!r}")
        path = os.fspath(fname)
        core = _deepdist.KeyedVectorsCore.load(path, limit or 0)
        if binary is not None and len(core) > 0 and bool(binary) != _looks_binary(path):
            kind = "binary" if _looks_binary(path) else "text"
            raise ValueError(f"binary: {path} is in the word2vec {kind} format, "
                             f"not binary={binary!r}")
        return cls(core)


def load_word2vec_format(fname, fvocab=None, binary=None, encoding="utf8",
                         unicode_errors="strict", limit=None, datatype=np.float32,
                         no_header=False):
    """KeyedVectors.load_word2vec_format."""
    return KeyedVectors.load_word2vec_format(fname, fvocab, binary, encoding, unicode_errors,
                                             limit, datatype, no_header)


def _looks_binary(path):
    """Whether a vectors file (already read once by the engine) is in the
    binary format: its first record is not a line of dim + 1 words."""
    with open(path, "rb") as f:
        dim = int(f.readline().split()[1])
        first = f.readline()
    fields = first.split()
    if len(fields) != dim + 1:
        return True
    try:
        [float(x) for x in fields[1:]]
    except ValueError:
        return True
    return False


def _log_section(section):
    correct, incorrect = len(section["correct"]), len(section["incorrect"])
    if correct + incorrect == 0:
        return 0.0
    score = correct / (correct + incorrect)
    logger.info("%s: %.1f%% (%i/%i)", section["section"], 100.0 * score, correct,
                correct + incorrect)
    return score
