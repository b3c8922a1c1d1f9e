"""words/s of deepdist.Word2Vec against `deepdist word2vec train`, the same
settings, runs interleaved in one invocation (so that both see the same
machine load, each going first in every other repeat); each run counts the
vocabulary, trains and writes its vectors, and is timed by the wall clock
around it (the CLI's process start included).

    PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/word2vec_speed.py \
        --cli build/deepdist --corpus data/corpus.txt --epochs 1 --workers 2 --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import deepdist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the deepdist binary")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out_dir = tempfile.mkdtemp(prefix="deepdist-bench-")
    out = os.path.join(out_dir, "vectors.bin")
    rows = []
    def run_cli(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [args.cli, "word2vec", "train", "--input", args.corpus, "--output", out,
             "--epochs", str(args.epochs), "--threads", str(args.workers), "--dim", str(args.dim),
             "--json", "--quiet"], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(("cli", repeat, summary["words"], wall, summary["words_per_second"]))

    def run_python(repeat):
        start = time.perf_counter()
        model = deepdist.Word2Vec(args.corpus, epochs=args.epochs, workers=args.workers,
                                  vector_size=args.dim)
        model.wv.save_word2vec_format(out, binary=True)
        wall = time.perf_counter() - start
        rows.append(("python", repeat, model.summary["words"], wall,
                     model.summary["words_per_second"]))

    # Interleaved, each going first in every other repeat.
    for repeat in range(args.repeats):
        first, second = (run_cli, run_python) if repeat % 2 == 0 else (run_python, run_cli)
        first(repeat)
        second(repeat)
    os.remove(out)
    os.rmdir(out_dir)

    print("| run | repeat | words | wall s | words/s (wall) | words/s (own summary) |")
    print("|---|---|---|---|---|---|")
    for name, repeat, words, wall, own in rows:
        print(f"| {name} | {repeat} | {words} | {wall:.2f} | {words / wall:,.0f} | {own:,.0f} |")
    medians = {}
    for name in ("cli", "python"):
        medians[name] = statistics.median(words / wall for n, _, words, wall, _ in rows if n == name)
    print(f"\nmedian words/s (wall): cli {medians['cli']:,.0f}, python {medians['python']:,.0f}, "
          f"python / cli = {medians['python'] / medians['cli']:.3f}")


if __name__ == "__main__":
    main()
