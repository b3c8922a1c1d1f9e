"""Run by test_mpi.py under mpirun: every rank runs this script; rank 0
writes what it trained to the JSON file named on the command line."""

import json
import sys

import numpy as np

import deepdist

TRUE_W = np.array([2.0, -3.0, 0.5], dtype=np.float32)


def gradient(model, partition):
    x, y = partition
    w = model["w"][0]
    error = x @ w[:2] + w[2] - y
    return {"w": (np.concatenate([x.T @ error, [error.sum()]]) / len(y)).reshape(1, 3)}


def descent(model, update):
    model["w"] -= 0.1 * update["w"]


def main(out_path, corpus):
    rng = np.random.default_rng(3)
    parts = []
    for _ in range(16):
        x = rng.normal(size=(64, 2)).astype(np.float32)
        parts.append((x, x @ TRUE_W[:2] + TRUE_W[2]))
    result = {"rank": deepdist.rank(), "ranks": deepdist.ranks()}
    for mode, passes in (("async", 30), ("sync", 200)):
        with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=1, mode=mode) as dd:
            for _ in range(passes):
                dd.train(parts, gradient, descent)
        result[mode] = dd.model["w"][0].tolist()
    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=1) as dd:
        for _ in range(60):
            dd.train(parts, gradient, deepdist.Sgd(lr=0.1))
    result["sgd"] = dd.model["w"][0].tolist()
    model = deepdist.Word2Vec(corpus, vector_size=32, epochs=1, workers=1, seed=7)
    result["vocab"] = len(model.wv)
    result["summary_ranks"] = model.summary["ranks"]
    result["words"] = model.summary["words"]
    if len(model.wv):
        result["similar"] = [w for w, _ in model.wv.most_similar("two", topn=5)]
    if deepdist.rank() == 0:
        with open(out_path, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
