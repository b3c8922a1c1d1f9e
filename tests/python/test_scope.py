"""deepdist.DeepDist with Python gradients and descents, the built-in rules,
the MLP and logistic regression, and errors raised by Python code."""

import numpy as np
import pytest

import deepdist

TRUE_W = np.array([2.0, -3.0, 0.5], dtype=np.float32)  # Two weights, then the bias.


def linear_data(partitions=16, rows=64, seed=3):
    """Noise-free y = 2 x1 - 3 x2 + 0.5, split into partitions (x, y): the
    least-squares optimum is TRUE_W exactly."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(partitions):
        x = rng.normal(size=(rows, 2)).astype(np.float32)
        y = x @ TRUE_W[:2] + TRUE_W[2]
        parts.append((x, y))
    return parts


def gradient(model, partition):
    """Mean squared error's gradient (halved) of one partition."""
    x, y = partition
    w = model["w"][0]
    error = x @ w[:2] + w[2] - y
    grad = np.concatenate([x.T @ error, [error.sum()]]) / len(y)
    return {"w": grad.reshape(1, 3).astype(np.float32)}


def descent(model, update):
    model["w"] -= 0.1 * update["w"]


@pytest.mark.parametrize("mode, passes", [("async", 30), ("sync", 200)])
def test_python_gradient_and_descent_reach_the_optimum(mode, passes):
    parts = linear_data()
    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=2, mode=mode) as dd:
        for _ in range(passes):
            dd.train(parts, gradient, descent)
        assert dd.updates_applied > 0
    np.testing.assert_allclose(dd.model["w"][0], TRUE_W, atol=1e-3)


@pytest.mark.parametrize("rule", [deepdist.Sgd(lr=0.1), deepdist.Adam(lr=0.05),
                                  deepdist.AdaGrad(lr=0.5), deepdist.Sgd(lr=0.05, momentum=0.5)])
def test_built_in_rules_reach_the_optimum(rule):
    parts = linear_data()
    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=2) as dd:
        for _ in range(60):
            dd.train(parts, gradient, rule)
        w = dd.model["w"][0]
    np.testing.assert_allclose(w, TRUE_W, atol=2e-2)


def test_rule_names_and_model_after_the_scope():
    dd = deepdist.DeepDist({"w": np.zeros((1, 3), np.float32), "unused": np.ones((2, 2))})
    with dd:
        dd.train(linear_data(), gradient, "sgd")
        dd.train(linear_data(), gradient, "sgd")
    model = dd.model
    assert set(model) == {"w", "unused"} and model["w"].dtype == np.float32
    np.testing.assert_array_equal(model["unused"], np.ones((2, 2)))
    assert np.abs(model["w"]).sum() > 0  # Trained after the with block still.
    with pytest.raises(ValueError, match="closed"):
        dd.train(linear_data(), gradient, "sgd")


def test_sparse_updates_change_only_their_rows():
    def one_row(model, partition):
        return {"emb": (np.array([partition]), np.ones((1, 4), np.float32))}
    with deepdist.DeepDist({"emb": np.zeros((5, 4), np.float32)}, workers=2) as dd:
        dd.train([1, 3, 3], one_row, deepdist.Sgd(lr=1.0))
        emb = dd.model["emb"]
    np.testing.assert_array_equal(emb[:, 0], [0, -1, 0, -2, 0])


def test_partitions_are_any_python_objects():
    seen = []

    def record(model, partition):
        seen.append(partition)
        return {}
    with deepdist.DeepDist({"w": np.zeros((1, 1), np.float32)}, workers=3) as dd:
        dd.train(({"id": i} for i in range(10)), record, "adam")
    assert sorted(p["id"] for p in seen) == list(range(10))


# --- Python errors propagate out of train, with their traceback --------------


def test_a_failing_gradient_raises_its_exception_from_train():
    def failing(model, partition):
        if partition == 5:
            return 1 / 0
        return {}
    with deepdist.DeepDist({"w": np.zeros((1, 1), np.float32)}, workers=2) as dd:
        with pytest.raises(ZeroDivisionError) as raised:
            dd.train(range(20), failing, "sgd")
        assert any(entry.name == "failing" for entry in raised.traceback)
        dd.train(range(3), lambda m, p: {}, "sgd")  # The scope still trains.


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_failing_descent_raises_its_exception_from_train(mode):
    class Broken(Exception):
        pass

    def broken(model, update):
        raise Broken("descent broke")
    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=2, mode=mode) as dd:
        with pytest.raises(Broken, match="descent broke"):
            dd.train(linear_data(), gradient, broken)


@pytest.mark.parametrize("update, error, message", [
    ({"w": np.zeros((2, 3))}, ValueError,
     r"gradient's update\[\"w\"\]: must have the table's shape \(1, 3\), not \(2, 3\)"),
    ({"v": np.zeros((1, 3))}, ValueError, r"gradient's update: the model has no table \"v\""),
    ([1, 2], TypeError, "gradient's update: must be a dict of arrays by table name, not list"),
    ({"w": (np.array([4]), np.zeros((1, 3)))}, ValueError,
     r"row id 4 is outside the 1 rows of the table"),
    ({"w": "abc"}, TypeError, "must be an array of numbers"),
])
def test_bad_updates_raise(update, error, message):
    with deepdist.DeepDist({"w": np.zeros((1, 3), np.float32)}, workers=1) as dd:
        with pytest.raises(error, match=message):
            dd.train([0], lambda m, p: update, "sgd")


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"model\[\"w\"\]: must be a 2-D array"):
        deepdist.DeepDist({"w": np.zeros(3)})
    with pytest.raises(ValueError, match="^model: has no tables$"):
        deepdist.DeepDist({})
    with pytest.raises(ValueError, match="^mode: must be async or sync, not 'bogus'$"):
        deepdist.DeepDist({"w": np.zeros((1, 1))}, mode="bogus")
    with pytest.raises(ValueError, match="^workers: must be between 1 and 4096"):
        deepdist.DeepDist({"w": np.zeros((1, 1))}, workers=0)
    with pytest.raises(ValueError, match="^lr: must be a positive number"):
        deepdist.Sgd(lr=-1)
    with pytest.raises(ValueError, match="^momentum: must be in"):
        deepdist.Sgd(momentum=1.5)
    with deepdist.DeepDist({"w": np.zeros((1, 1), np.float32)}) as dd:
        with pytest.raises(ValueError, match="^descent: must be sgd, adagrad or adam, not 'x'$"):
            dd.train([0], lambda m, p: {}, "x")
        with pytest.raises(ValueError, match="^partitions: there are none to train on$"):
            dd.train([], lambda m, p: {}, "sgd")
        dd.train([0], lambda m, p: {}, "sgd")
        with pytest.raises(ValueError, match="needs other optimizer state"):
            dd.train([0], lambda m, p: {}, "adam")


# --- the engine's models through the same scope ------------------------------


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    y = rng.integers(0, 3, size=n).astype(np.int32)
    x = centers[y] + rng.normal(scale=0.5, size=(n, 4)).astype(np.float32)
    return x, y


def test_mlp_trains_through_the_scope(tmp_path):
    arch = deepdist.mlp.Architecture(inputs=4, hidden=[16], classes=3)
    x, y = blobs(2000, 1)
    parts = [(x[i:i + 50], y[i:i + 50]) for i in range(0, len(y), 50)]

    def mlp_gradient(model, part):
        loss, grad = deepdist.mlp.loss_and_gradient(model, arch, *part)
        return grad
    model = deepdist.mlp.new_model(arch, seed=1)
    before = deepdist.mlp.accuracy(model, arch, x, y)
    with deepdist.DeepDist(model, workers=2) as dd:
        for _ in range(5):
            dd.train(parts, mlp_gradient, deepdist.Adam(lr=0.01))
        model = dd.model
    test_x, test_y = blobs(500, 2)
    assert deepdist.mlp.accuracy(model, arch, test_x, test_y) > max(0.9, before)
    probabilities = deepdist.mlp.predict(model, arch, test_x[:3])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    path = tmp_path / "mlp.txt"
    deepdist.mlp.save(str(path), model, arch)
    loaded, loaded_arch = deepdist.mlp.load(str(path))
    assert loaded_arch.hidden == [16]
    np.testing.assert_array_equal(loaded["layer0"], model["layer0"])
    with pytest.raises(ValueError, match="y: label 3 is not a class 0..2"):
        deepdist.mlp.loss_and_gradient(model, arch, x[:2], np.array([0, 3]))
    with pytest.raises(FileNotFoundError):
        deepdist.mlp.read_csv(str(tmp_path / "none.csv"))


def test_mlp_reads_csv_with_the_clis_split(tmp_path):
    path = tmp_path / "d.csv"
    x, y = blobs(200, 3)
    path.write_text("".join(f"{a:.3f},{b:.3f},{c:.3f},{d:.3f},{label}\n"
                            for (a, b, c, d), label in zip(x, y)))
    train_x, train_y = deepdist.mlp.read_csv(str(path), test_fraction=0.25, seed=4)
    test_x, test_y = deepdist.mlp.read_csv(str(path), test_fraction=0.25, seed=4, test_side=True)
    assert len(train_y) + len(test_y) == 200 and 20 < len(test_y) < 80
    assert train_x.shape == (len(train_y), 4)


def test_logistic_regression_trains_with_sparse_updates():
    rng = np.random.default_rng(5)
    examples = []
    for _ in range(800):
        features = rng.choice(np.arange(1, 41), size=4, replace=False)
        positive = bool((features <= 20).sum() >= 2)
        line = ("1" if positive else "0") + "".join(f" {f}:1" for f in sorted(features))
        examples.append(deepdist.logreg.parse_line(line))
    parts = [examples[i:i + 40] for i in range(0, len(examples), 40)]

    def logreg_gradient(model, part):
        return deepdist.logreg.loss_and_gradient(model, part)[1]
    with deepdist.DeepDist(deepdist.logreg.new_model(40), workers=2) as dd:
        for _ in range(20):
            dd.train(parts, logreg_gradient, deepdist.Sgd(lr=1.0))
        model = dd.model
    right = sum((deepdist.logreg.probability(model, e) > 0.5) == e.positive for e in examples)
    assert right / len(examples) > 0.85
    with pytest.raises(ValueError):
        deepdist.logreg.parse_line("1 0:1")


def test_mlp_gradient_equals_a_numpy_reference():
    """The engine's gradient (through the binding) against the same MLP's
    gradient written plainly in numpy."""
    arch = deepdist.mlp.Architecture(inputs=4, hidden=[8, 5], classes=3)
    model = deepdist.mlp.new_model(arch, seed=2)
    x, y = blobs(30, 4)
    loss, grads = deepdist.mlp.loss_and_gradient(model, arch, x, y)
    layers = [model[f"layer{i}"] for i in range(3)]
    activations, h = [x], x
    for i, w in enumerate(layers):
        z = h @ w[:, :-1].T + w[:, -1]
        h = np.maximum(z, 0) if i < 2 else z
        activations.append(h)
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(30), y]).mean(), rel=1e-4)
    delta = p.copy()
    delta[np.arange(30), y] -= 1
    delta /= 30
    for i in reversed(range(3)):
        expected = np.hstack([delta.T @ activations[i], delta.sum(axis=0)[:, None]])
        np.testing.assert_allclose(grads[f"layer{i}"], expected, rtol=1e-4, atol=1e-6)
        delta = (delta @ layers[i][:, :-1]) * (activations[i] > 0)
