"""Shared fixtures of the Python tests: the CLI binary to compare with, the
data, and a small corpus cut from data/small.txt.

Run from the repository root, against a build tree:
    PYTHONPATH=build-py/python /usr/bin/python3 -m pytest tests/python
DEEPDIST_CLI names the deepdist binary (default: the deepdist next to the
module's build tree), DEEPDIST_DATA the data folder (default: data/).
"""

import os
import pathlib

import pytest

import deepdist

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _default_cli():
    # build/python/deepdist/__init__.py -> build/deepdist
    return pathlib.Path(deepdist.__file__).resolve().parents[2] / "deepdist"


@pytest.fixture(scope="session")
def cli():
    path = pathlib.Path(os.environ.get("DEEPDIST_CLI", _default_cli()))
    if not path.exists():
        pytest.skip(f"no deepdist binary at {path} (set DEEPDIST_CLI)")
    return str(path)


@pytest.fixture(scope="session")
def data_dir():
    path = pathlib.Path(os.environ.get("DEEPDIST_DATA", ROOT / "data"))
    if not (path / "small.txt").exists():
        pytest.skip(f"no data/small.txt in {path} (scripts/get-data.sh)")
    return path


@pytest.fixture(scope="session")
def questions(data_dir):
    path = data_dir / "questions-words.txt"
    if not path.exists():
        pytest.skip(f"no {path}")
    return str(path)


@pytest.fixture(scope="session")
def corpus(data_dir, tmp_path_factory):
    """The first 2 MB of data/small.txt (about 350,000 words), cut at a space,
    as sentences of 1000 words, one a line."""
    text = (data_dir / "small.txt").read_bytes()[:2_000_000].decode("utf-8", "ignore")
    words = text[: text.rfind(" ")].split()
    lines = [" ".join(words[i:i + 1000]) for i in range(0, len(words), 1000)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
