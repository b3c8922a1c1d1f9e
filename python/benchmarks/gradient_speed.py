"""examples/s of the MLP on the handwritten digits trained three ways with
the same settings (hidden 64, Adam at 0.001, batches of about 80 training
examples, 2 workers, async): the CLI (`deepdist mlp train`: the C++ gradient
in the C++ scope), deepdist.DeepDist with the engine's gradient called from
Python (deepdist.mlp.loss_and_gradient), and deepdist.DeepDist with a
gradient written in numpy.

    PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/gradient_speed.py \
        --cli build/deepdist --epochs 100
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

import deepdist

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def numpy_gradient(model, part):
    """The MLP's mean cross-entropy gradient (ReLU hidden layers, softmax
    output), tables as deepdist.mlp lays them out: a row per unit, its
    weights over the layer's inputs, then its bias."""
    x, y = part
    layers = [model[f"layer{i}"] for i in range(len(model))]
    activations = [x]
    h = x
    for i, w in enumerate(layers):
        z = h @ w[:, :-1].T + w[:, -1]
        h = np.maximum(z, 0) if i < len(layers) - 1 else z
        activations.append(h)
    z = h - h.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    delta = p
    delta[np.arange(len(y)), y] -= 1
    delta /= len(y)
    grads = {}
    for i in reversed(range(len(layers))):
        a = activations[i]
        grads[f"layer{i}"] = np.hstack([delta.T @ a, delta.sum(axis=0)[:, None]]).astype(np.float32)
        if i > 0:
            delta = (delta @ layers[i][:, :-1]) * (activations[i] > 0)
    return grads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the deepdist binary")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="deepdist-bench-")
    csv = os.path.join(work, "digits.csv")
    with gzip.open(DIGITS, "rb") as src, open(csv, "wb") as dst:
        shutil.copyfileobj(src, dst)

    done = subprocess.run(
        [args.cli, "mlp", "train", "--input", csv, "--hidden", "64", "--epochs", str(args.epochs),
         "--batch", "100", "--threads", str(args.workers), "--optimizer", "adam", "--json"],
        capture_output=True, text=True, check=True)
    cli = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [("CLI (C++ gradient, C++ scope)", cli["train_examples"] * args.epochs,
             cli["seconds"], cli["test_accuracy"])]

    x, y = deepdist.mlp.read_csv(csv, test_fraction=0.2, seed=1)
    test_x, test_y = deepdist.mlp.read_csv(csv, test_fraction=0.2, seed=1, test_side=True)
    arch = deepdist.mlp.Architecture(inputs=x.shape[1], hidden=[64], classes=10)
    # As many partitions as the CLI's (--batch 100 lines of the file, the
    # test lines left out of each).
    lines = len(y) + len(test_y)
    chunks = np.array_split(np.arange(len(y)), (lines + 99) // 100)
    parts = [(x[c], y[c]) for c in chunks]

    def engine_gradient(model, part):
        return deepdist.mlp.loss_and_gradient(model, arch, *part)[1]

    for name, gradient in (("Python scope, engine gradient (deepdist.mlp)", engine_gradient),
                           ("Python scope, numpy gradient", numpy_gradient)):
        with deepdist.DeepDist(deepdist.mlp.new_model(arch, seed=1), workers=args.workers) as dd:
            start = time.perf_counter()
            for _ in range(args.epochs):
                dd.train(parts, gradient, deepdist.Adam(lr=0.001))
            seconds = time.perf_counter() - start
        accuracy = deepdist.mlp.accuracy(dd.model, arch, test_x, test_y)
        rows.append((name, len(y) * args.epochs, seconds, accuracy))
    shutil.rmtree(work)

    print("| training | examples | seconds | examples/s | test accuracy |")
    print("|---|---|---|---|---|")
    for name, examples, seconds, accuracy in rows:
        print(f"| {name} | {examples} | {seconds:.2f} | {examples / seconds:,.0f} | "
              f"{accuracy:.3f} |")


if __name__ == "__main__":
    main()
