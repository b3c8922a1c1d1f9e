"""Under mpirun, a script that uses the module trains distributed: rank 0
holds the result."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import deepdist

HERE = os.path.dirname(os.path.abspath(__file__))


def mpirun_python(script, *args):
    """Runs `script` on two ranks with this build's module."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun (Debian openmpi-bin)")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(deepdist.__file__)), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [mpirun, "-np", "2", "--oversubscribe", sys.executable, os.path.join(HERE, script),
         *args], env=env, capture_output=True, text=True, timeout=300)
    if "built without MPI support" in done.stderr:
        pytest.skip("this deepdist was built without MPI")
    return done


def test_a_script_under_mpirun_trains_on_two_ranks(corpus, tmp_path):
    out = tmp_path / "result.json"
    done = mpirun_python("mpi_job.py", str(out), corpus)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["rank"] == 0 and result["ranks"] == 2
    true_w = [2.0, -3.0, 0.5]
    for name in ("async", "sync"):
        np.testing.assert_allclose(result[name], true_w, atol=1e-3)
    np.testing.assert_allclose(result["sgd"], true_w, atol=2e-2)
    embedded = deepdist.Word2Vec(corpus, vector_size=32, epochs=1, workers=1, seed=7)
    assert result["summary_ranks"] == 2
    assert result["vocab"] == len(embedded.wv)
    assert result["words"] == embedded.summary["words"]
    assert len(result["similar"]) == 5


def test_an_uncaught_exception_on_one_rank_ends_the_job():
    done = mpirun_python("mpi_failing_job.py")
    assert done.returncode != 0
    assert "RuntimeError: gradient failed on rank 1" in done.stderr
    assert "in gradient" in done.stderr  # The traceback reaches into the gradient.
