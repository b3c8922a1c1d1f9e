"""The tables, CSVs and plots of bench/convergence.sh, from its work folder.

Reads selection.txt (one line per rate tried: model setup mode optimizer alpha
accuracy seconds) and the series-<model>-<setup>-<mode>-<optimizer>.json summaries
of the chosen rates; writes convergence.csv, convergence.png, convergence-mlp.csv
and convergence-mlp.png into --out and prints markdown tables.
Runs under /usr/bin/python3 (Debian's matplotlib).
"""
import argparse
import csv
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WAYS = [("async", "sgd"), ("async", "adagrad"), ("sync", "sgd"), ("sync", "adagrad")]
SETUP_NAMES = {"embedded": "embedded, 2 threads", "mpi2": "mpirun -np 2, 1 thread each"}
STYLE = {("async", "sgd"): ("tab:blue", "-"), ("async", "adagrad"): ("tab:orange", "-"),
         ("sync", "sgd"): ("tab:blue", "--"), ("sync", "adagrad"): ("tab:orange", "--")}


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", required=True)
    p.add_argument("--select-epochs", required=True)
    return p.parse_args()


def series_of(summary, key):
    """[(seconds, progress, accuracy)], starting from (0, 0, 0) as training does."""
    name = "accuracy_series" if key == "accuracy" else "test_accuracy_series"
    points = [(0.0, 0.0, 0.0)]
    points += [(p["seconds"], p["progress"], p[key]) for p in summary[name]]
    return points


def time_to(points, target):
    """Seconds of training until the accuracy first reaches `target`, linearly
    interpolated between the evaluated points; None if it never does."""
    for (t0, _, a0), (t1, _, a1) in zip(points, points[1:]):
        if a1 >= target:
            if a1 == a0:
                return t1
            return t0 + (t1 - t0) * (target - a0) / (a1 - a0)
    return None


def fmt_time(t, digits=1):
    return "not reached" if t is None else "%.*f s" % (digits, t)


def main():
    args = parse()
    rows = [line.split() for line in open(os.path.join(args.work, "selection.txt"))]
    setups = []
    for r in rows:
        if r[1] not in setups:
            setups.append(r[1])
    series = {}
    for model, key in (("word2vec", "accuracy"), ("mlp", "test_accuracy")):
        for setup in setups:
            for way in WAYS:
                path = os.path.join(args.work, "series-%s-%s-%s-%s.json" % ((model, setup) + way))
                if not os.path.exists(path):
                    continue
                summary = json.load(open(path))
                series[(model, setup) + way] = series_of(summary, key)

    # Rate selection.
    print("Rate selection (word2vec: analogy accuracy after %s epoch(s); MLP: final test "
          "accuracy); the best rate of each way, in bold, is the one whose series follows."
          % args.select_epochs)
    print()
    print("| model | setup | mode | optimizer | alpha | accuracy % | train s |")
    print("|---|---|---|---|---|---|---|")
    best = {}
    for r in rows:
        k = tuple(r[:4])
        if k not in best or float(r[5]) > float(best[k][5]):
            best[k] = r
    for r in rows:
        bold = best[tuple(r[:4])] is r
        alpha = "**%s**" % r[4] if bold else r[4]
        print("| %s | %s | %s | %s | %s | %.2f | %.1f |" % (
            r[0], r[1], r[2], r[3], alpha, 100 * float(r[5]), float(r[6])))
    print()

    # CSVs.
    for model, name, key in (("word2vec", "convergence.csv", "accuracy"),
                             ("mlp", "convergence-mlp.csv", "test_accuracy")):
        with open(os.path.join(args.out, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["setup", "mode", "optimizer", "alpha", "seconds", "progress", key])
            for setup in setups:
                for way in WAYS:
                    k = (model, setup) + way
                    if k not in series:
                        continue
                    a = best[k][4]
                    for t, p, acc in series[k][1:]:
                        w.writerow([setup, way[0], way[1], a, "%.3f" % t, "%.4f" % p, "%.5f" % acc])

    # Plots: one panel per setup.
    for model, name, ylabel in (("word2vec", "convergence.png", "analogy accuracy (%)"),
                                ("mlp", "convergence-mlp.png", "test accuracy (%)")):
        fig, axes = plt.subplots(1, len(setups), figsize=(6 * len(setups), 4.2), squeeze=False)
        for ax, setup in zip(axes[0], setups):
            for way in WAYS:
                k = (model, setup) + way
                if k not in series:
                    continue
                color, line = STYLE[way]
                ts = [p[0] for p in series[k]]
                accs = [100 * p[2] for p in series[k]]
                ax.plot(ts, accs, line, color=color, marker=".",
                        label="%s + %s (alpha %s)" % (way[0], way[1], best[k][4]))
            ax.set_title("%s: %s" % ("word2vec skip-gram" if model == "word2vec" else
                                     "MLP on the digits", SETUP_NAMES.get(setup, setup)))
            ax.set_xlabel("seconds of training (evaluation excluded)")
            ax.set_ylabel(ylabel)
            if model == "mlp":
                ax.set_ylim(80, 100)
            ax.grid(True, alpha=0.3)
            ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, name), dpi=110)
        plt.close(fig)

    # The claims.
    print("word2vec, %s epochs: final accuracy and seconds to reach each target (linear "
          "between evaluations)." % args.epochs)
    print()
    print("| setup | way | alpha | final % | train s | to 30% | to sync's final "
          "(same rule) | to async SGD's final |")
    print("|---|---|---|---|---|---|---|---|")
    for setup in setups:
        for way in WAYS:
            k = ("word2vec", setup) + way
            if k not in series:
                continue
            pts = series[k]
            sync_final = series.get(("word2vec", setup, "sync", way[1]))
            sgd_final = series.get(("word2vec", setup, "async", "sgd"))
            print("| %s | %s + %s | %s | %.2f | %.1f | %s | %s | %s |" % (
                setup, way[0], way[1], best[k][4], 100 * pts[-1][2], pts[-1][0],
                fmt_time(time_to(pts, 0.30)),
                fmt_time(time_to(pts, sync_final[-1][2])) if sync_final else "-",
                fmt_time(time_to(pts, sgd_final[-1][2])) if sgd_final else "-"))
    print()
    print("MLP on the digits: final test accuracy and seconds to reach 95% and 97%.")
    print()
    print("| setup | way | alpha | final % | train s | to 95% | to 97% |")
    print("|---|---|---|---|---|---|---|")
    for setup in setups:
        for way in WAYS:
            k = ("mlp", setup) + way
            if k not in series:
                continue
            pts = series[k]
            print("| %s | %s + %s | %s | %.2f | %.2f | %s | %s |" % (
                setup, way[0], way[1], best[k][4], 100 * pts[-1][2], pts[-1][0],
                fmt_time(time_to(pts, 0.95), 2), fmt_time(time_to(pts, 0.97), 2)))


if __name__ == "__main__":
    main()
