"""Run by test_mpi.py under mpirun: rank 1's gradient raises, nobody catches
it, and the whole job must end (not hang) with that traceback."""

import time

import numpy as np

import deepdist


def gradient(model, partition):
    time.sleep(0.01)
    if deepdist.rank() == 1:
        raise RuntimeError("gradient failed on rank 1")
    return {}


with deepdist.DeepDist({"w": np.zeros((1, 1), np.float32)}, workers=1) as dd:
    dd.train(range(32), gradient, "sgd")
