"""deepdist: asynchronous-SGD training with a model server, from Python.

The engine is C++ (the compiled extension ``_deepdist``); this package gives
it a Python face:

- :class:`Word2Vec` trains word vectors as ``deepdist word2vec train`` does,
  with gensim's argument names, and :class:`KeyedVectors` queries them as
  gensim's KeyedVectors does.
- :class:`DeepDist` trains a model of your own: a dict of 2-D float32 numpy
  arrays, a Python ``gradient(model, partition)`` run by worker threads, and a
  descent rule (:class:`Sgd`, :class:`AdaGrad`, :class:`Adam`, their names, or
  a Python ``descent(model, update)``).
- :mod:`deepdist.mlp` and :mod:`deepdist.logreg` are the engine's MLP and
  logistic regression, whose C++ gradients plug into :class:`DeepDist`.

Started by ``mpirun``, every rank runs the same script and training is
distributed: rows are sharded across the ranks and rank 0 holds the result.
Progress is logged to the ``logging`` logger named "deepdist". See
docs/PYTHON.md.
"""

import atexit
import logging
import sys

from . import _deepdist
from ._deepdist import launched_by_mpi, rank, ranks
from .keyed_vectors import KeyedVectors, load_word2vec_format
from .scope import AdaGrad, Adam, DeepDist, Sgd
from .word2vec import Word2Vec

mlp = _deepdist.mlp
logreg = _deepdist.logreg
# So that `import deepdist.mlp` and `from deepdist.logreg import ...` work.
sys.modules[__name__ + ".mlp"] = mlp
sys.modules[__name__ + ".logreg"] = logreg

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Scopes still open are closed, then the process leaves its cluster (under
# mpirun this finalises MPI on every rank).
atexit.register(_deepdist._leave_cluster)


def _end_job_on_uncaught_exception(exc_type, exc, tb, _previous=sys.excepthook):
    """Under mpirun, an exception no rank catches ends the whole job (after its
    traceback is printed), as a failure ends `deepdist` CLI jobs: the other
    ranks would otherwise wait for this one forever."""
    _previous(exc_type, exc, tb)
    if _deepdist._joined_ranks() > 1:
        _deepdist._abort_job(1)


if launched_by_mpi():
    sys.excepthook = _end_job_on_uncaught_exception

__all__ = [
    "AdaGrad",
    "Adam",
    "DeepDist",
    "KeyedVectors",
    "Sgd",
    "Word2Vec",
    "launched_by_mpi",
    "load_word2vec_format",
    "logreg",
    "mlp",
    "rank",
    "ranks",
]
