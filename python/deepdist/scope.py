"""The DeepDist scope: a model server, workers running a Python gradient, and
a descent rule.

    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}) as dd:
        dd.train(partitions, gradient, deepdist.Sgd(lr=0.1))
    print(dd.model["w"])

``gradient(model, partition)`` is called on worker threads, once per element
of ``partitions`` per ``train`` call, with the model as it stands on the
model server (a dict of read-only numpy copies) and that element (any Python
object). It returns a dict of updates for the tables it changes: an array of
the table's shape, or a pair ``(row_ids, values)`` for some rows.

Worker threads take the GIL around each Python call, so Python code in
gradients runs one at a time (numpy and the engine's own gradients, such as
``deepdist.mlp.loss_and_gradient``, release it while they compute).
"""

import math

from . import _deepdist


def _check_rate(name, value):
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a positive number, not {value!r}")
    return float(value)


def _check_fraction(name, value, low_open=False):
    if not isinstance(value, (int, float)) or not (0 <= value < 1) or (low_open and value == 0):
        interval = "(0, 1)" if low_open else "[0, 1)"
        raise ValueError(f"{name}: must be in {interval}, not {value!r}")
    return float(value)


class Sgd:
    """Stochastic gradient descent, applied at the model server:
    ``v = momentum * v + g; row -= lr * v`` (no state without momentum).

    With ``decay=True`` the rate falls linearly over each ``train`` call from
    ``lr`` to ``lr * min_fraction`` (word2vec's schedule); by default it is
    constant.
    """

    def __init__(self, lr=0.025, momentum=0.0, decay=False, min_fraction=1e-4):
        self.lr = _check_rate("lr", lr)
        self.momentum = _check_fraction("momentum", momentum)
        if not isinstance(decay, bool):
            raise ValueError(f"decay: must be True or False, not {decay!r}")
        self.decay = decay
        self.min_fraction = _check_fraction("min_fraction", min_fraction)

    def _spec(self):
        return _deepdist.RuleSpec("sgd", self.lr, self.decay, self.min_fraction, self.momentum,
                                  0.9, 0.999, 1e-8)

    def __repr__(self):
        return f"Sgd(lr={self.lr}, momentum={self.momentum}, decay={self.decay})"


class AdaGrad:
    """AdaGrad at the model server: ``G += g**2; row -= lr * g / (sqrt(G) + 1e-8)``,
    per value, at a constant rate."""

    def __init__(self, lr=0.025):
        self.lr = _check_rate("lr", lr)

    def _spec(self):
        return _deepdist.RuleSpec("adagrad", self.lr, False, 1e-4, 0.0, 0.9, 0.999, 1e-8)

    def __repr__(self):
        return f"AdaGrad(lr={self.lr})"


class Adam:
    """Adam at the model server (Kingma and Ba), per value, with the step
    count kept per row, at a constant rate."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.lr = _check_rate("lr", lr)
        self.beta1 = _check_fraction("beta1", beta1)
        self.beta2 = _check_fraction("beta2", beta2)
        self.epsilon = _check_rate("epsilon", epsilon)

    def _spec(self):
        return _deepdist.RuleSpec("adam", self.lr, False, 1e-4, 0.0, self.beta1, self.beta2,
                                  self.epsilon)

    def __repr__(self):
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2})"


_RULES = {"sgd": Sgd, "adagrad": AdaGrad, "adam": Adam}


class DeepDist:
    """A model server for ``model`` (a dict of 2-D float32 arrays by table
    name) and its workers; use it as a context manager.

    ``workers`` is the number of worker threads (per rank under mpirun; by
    default one per hardware thread). ``mode`` is ``"async"`` (Downpour: each
    worker fetches the model, computes its partition's update and pushes it,
    no barrier) or ``"sync"`` (Spark MLlib's rounds: every worker computes
    its update against the same model, the round's updates are averaged and
    applied once).

    Under mpirun every rank makes the scope with the same model and calls
    ``train`` with the same arguments; each rank trains its share of the
    partitions, and rank 0's ``model`` is the trained one.
    """

    def __init__(self, model, workers=None, mode="async"):
        if workers is not None and (not isinstance(workers, int) or not 1 <= workers <= 4096):
            raise ValueError(f"workers: must be between 1 and 4096, not {workers!r}")
        if mode not in ("async", "sync"):
            raise ValueError(f"mode: must be async or sync, not {mode!r}")
        self._scope = _deepdist.Scope(model, workers or 0, mode)
        self._final = None
        self.mode = mode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def train(self, partitions, gradient, descent="sgd"):
        """One pass over ``partitions`` (any iterable; each element goes to
        one ``gradient`` call). ``descent`` is a rule applied at the model
        server ("sgd", "adagrad", "adam" with default settings, or an
        :class:`Sgd`, :class:`AdaGrad`, :class:`Adam`), or a Python callable
        ``descent(model, update)`` that changes ``model`` (a dict of writable
        copies of the worker's model) in place or returns the changed dict:
        it runs on the worker after its gradient, and the change it made is
        sent to the model server, which adds it to the master rows.

        May be called again: training goes on from the model as it stands.
        An exception raised by ``gradient`` or ``descent`` stops training and
        propagates from here with its traceback.
        """
        if self._scope.closed:
            raise ValueError("DeepDist: the scope is closed")
        if isinstance(descent, str):
            if descent not in _RULES:
                raise ValueError(f"descent: must be sgd, adagrad or adam, not {descent!r}")
            descent = _RULES[descent]()
        if isinstance(descent, (Sgd, AdaGrad, Adam)):
            self._scope.train(partitions, gradient, None, descent._spec())
        elif callable(descent):
            self._scope.train(partitions, gradient, descent, None)
        else:
            raise TypeError("descent: must be a rule name, a deepdist rule or a callable, not "
                            f"{type(descent).__name__}")

    @property
    def model(self):
        """The master model: a dict of numpy arrays (copies) by table name.
        Rank 0 holds the trained model; under mpirun the other ranks hold the
        model the scope was made with."""
        if self._final is not None:
            return {name: array.copy() for name, array in self._final.items()}
        return self._scope.model()

    @property
    def rank(self):
        return self._scope.rank

    @property
    def ranks(self):
        return self._scope.ranks

    @property
    def workers(self):
        return self._scope.workers

    @property
    def updates_applied(self):
        """Updates applied so far: one per partition (one per round in sync mode)."""
        return self._scope.updates_applied

    def close(self):
        """Stops the model server; ``model`` keeps the last model."""
        if not self._scope.closed:
            self._final = self._scope.model()
            self._scope.close()
