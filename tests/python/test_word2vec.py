"""deepdist.Word2Vec and KeyedVectors: the CLI's vectors bit for bit, gensim's
answers, and the errors."""

import logging
import subprocess

import numpy as np
import pytest

import deepdist

SETTINGS = dict(vector_size=32, epochs=1, seed=7, workers=1, min_count=5)
CLI_FLAGS = ["--dim", "32", "--epochs", "1", "--seed", "7", "--threads", "1", "--min-count", "5"]


def run_cli(cli, *args):
    done = subprocess.run([cli, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def model(corpus):
    return deepdist.Word2Vec(corpus, **SETTINGS)


@pytest.fixture(scope="module")
def gensim_vectors(model, tmp_path_factory):
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors
    path = tmp_path_factory.mktemp("gensim") / "vectors.bin"
    model.wv.save_word2vec_format(str(path), binary=True)
    return KeyedVectors.load_word2vec_format(str(path), binary=True)


def test_vectors_equal_the_clis_binary_output(model, corpus, cli, tmp_path):
    out = tmp_path / "cli.bin"
    run_cli(cli, "word2vec", "train", "--input", corpus, "--output", str(out), "--format", "bin",
            "--quiet", *CLI_FLAGS)
    theirs = deepdist.load_word2vec_format(str(out), binary=True)
    assert theirs.index_to_key == model.wv.index_to_key
    assert np.array_equal(theirs.vectors, model.wv.vectors)


def test_text_output_is_byte_for_byte_the_clis(model, corpus, cli, tmp_path):
    out = tmp_path / "cli.txt"
    run_cli(cli, "word2vec", "train", "--input", corpus, "--output", str(out), "--format", "text",
            "--quiet", *CLI_FLAGS)
    ours = tmp_path / "ours.txt"
    model.wv.save_word2vec_format(str(ours), binary=False)
    assert ours.read_bytes() == out.read_bytes()


def test_cbow_with_hierarchical_softmax_equals_the_cli(corpus, cli, tmp_path):
    ours = deepdist.Word2Vec(corpus, sg=0, hs=1, negative=0, **SETTINGS)
    assert ours.syn1.shape == ours.wv.vectors.shape
    out = tmp_path / "cli.bin"
    run_cli(cli, "word2vec", "train", "--input", corpus, "--output", str(out), "--model", "cbow",
            "--loss", "hs", "--quiet", *CLI_FLAGS)
    assert np.array_equal(deepdist.load_word2vec_format(str(out)).vectors, ours.wv.vectors)


def test_an_iterable_corpus_trains_as_its_file(model, corpus):
    with open(corpus, encoding="utf-8") as f:
        sentences = (line.split() for line in f)
        again = deepdist.Word2Vec(sentences, **SETTINGS)
    assert again.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(again.wv.vectors, model.wv.vectors)


def test_vectors_are_a_read_only_view_kept_alive_by_the_object(corpus):
    wv = deepdist.Word2Vec(corpus, **SETTINGS).wv
    vectors = wv.vectors
    del wv
    assert vectors.shape[1] == 32 and vectors.dtype == np.float32
    assert not vectors.flags.writeable and not vectors.flags.owndata
    assert np.isfinite(vectors).all() and np.abs(vectors).sum() > 0


def test_lookups(model):
    wv = model.wv
    assert wv.index_to_key[0] == "the" and wv.key_to_index["the"] == 0
    assert np.array_equal(wv["the"], wv.vectors[0])
    assert wv[["the", "of"]].shape == (2, 32)
    assert "the" in wv and "qqqqzzz" not in wv
    assert wv.get_vecattr("the", "count") > wv.get_vecattr("of", "count")
    with pytest.raises(KeyError):
        wv["qqqqzzz"]
    unit = wv.get_normed_vectors()
    assert np.allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-5)
    assert model.summary["vocab_size"] == len(wv)
    assert model.summary["words"] == model.corpus_total_words


def test_most_similar_and_similarity_agree_with_gensim(model, gensim_vectors):
    ours = model.wv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    theirs = gensim_vectors.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    ours = model.wv.most_similar("france", topn=10, restrict_vocab=2000)
    theirs = gensim_vectors.most_similar("france", topn=10, restrict_vocab=2000)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert model.wv.similarity("king", "queen") == pytest.approx(
        gensim_vectors.similarity("king", "queen"), abs=1e-6)


@pytest.fixture(scope="module")
def analogy_vectors(data_dir, tmp_path_factory):
    """Vectors that answer some analogies (data/small.txt, 3 epochs), as
    deepdist and gensim hold them."""
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors
    model = deepdist.Word2Vec(str(data_dir / "small.txt"), vector_size=50, epochs=3, seed=7)
    path = tmp_path_factory.mktemp("analogy") / "vectors.bin"
    model.wv.save_word2vec_format(str(path), binary=True)
    return model.wv, KeyedVectors.load_word2vec_format(str(path), binary=True)


def test_evaluate_word_analogies_agrees_with_gensim(analogy_vectors, questions):
    ours, theirs = analogy_vectors
    score, sections = ours.evaluate_word_analogies(questions)
    their_score, their_sections = theirs.evaluate_word_analogies(questions)
    assert sections == their_sections
    assert score == their_score
    assert sections[-1]["section"] == "Total accuracy"
    assert len(sections[-1]["correct"]) > 50 and len(sections[-1]["incorrect"]) > 1000
    assert [s["section"] for s in sections[:2]] == ["capital-common-countries", "capital-world"]


def test_dummy4unknown_and_restrict_vocab_agree_with_gensim(analogy_vectors, questions):
    ours, theirs = analogy_vectors
    assert ours.evaluate_word_analogies(questions, restrict_vocab=3000, dummy4unknown=True) == \
        theirs.evaluate_word_analogies(questions, restrict_vocab=3000, dummy4unknown=True)


def test_saved_vectors_load_back(model, tmp_path):
    for binary in (True, False):
        path = tmp_path / ("v.bin" if binary else "v.txt")
        model.wv.save_word2vec_format(str(path), binary=binary)
        loaded = deepdist.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert loaded.index_to_key == model.wv.index_to_key
        if binary:
            assert np.array_equal(loaded.vectors, model.wv.vectors)
        else:
            assert np.allclose(loaded.vectors, model.wv.vectors, rtol=1e-6, atol=1e-7)
    limited = deepdist.load_word2vec_format(str(tmp_path / "v.bin"), limit=100)
    assert len(limited) == 100 and limited.index_to_key == model.wv.index_to_key[:100]
    vocab = tmp_path / "vocab.txt"
    model.wv.save_word2vec_format(str(tmp_path / "w.bin"), fvocab=str(vocab), binary=True)
    first = vocab.read_text().splitlines()[0].split()
    assert first == ["the", str(model.wv.get_vecattr("the", "count"))]


def test_progress_is_logged(corpus, caplog):
    with caplog.at_level(logging.INFO, logger="deepdist"):
        deepdist.Word2Vec(corpus, **SETTINGS)
    assert any("trained skip-gram on" in r.getMessage() for r in caplog.records)


# --- errors: the exception named, with the engine's one-line message --------


def test_a_missing_corpus_is_file_not_found(tmp_path):
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match=f"^{missing}: no such file or directory$"):
        deepdist.Word2Vec(missing)


def test_a_binary_corpus_is_an_os_error(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\0\1\2\3" * 1000)
    with pytest.raises(OSError, match="binary"):
        deepdist.Word2Vec(str(path))


def test_a_corpus_without_frequent_words_is_an_os_error(tmp_path):
    path = tmp_path / "rare.txt"
    path.write_text("a b c\n")
    with pytest.raises(OSError, match="no word occurs at least 5 times \\(min_count\\)"):
        deepdist.Word2Vec(str(path))


@pytest.mark.parametrize("kwargs, message", [
    (dict(vector_size=0), "^vector_size: must be between 1 and 10000, not 0$"),
    (dict(window=0), "^window: must be between 1 and 1000, not 0$"),
    (dict(negative=0), "^negative: must be between 1 and 1000, not 0$"),
    (dict(hs=1), "^negative: hierarchical softmax \\(hs=1\\) draws no negatives"),
    (dict(sg=2), "^sg: must be between 0 and 1, not 2$"),
    (dict(sample=1.5), "^sample: must be in \\[0, 1\\), not 1.5$"),
    (dict(min_count=0), "^min_count: must be between 1"),
    (dict(epochs=0), "^epochs: must be between 1 and 100000, not 0$"),
    (dict(workers=0), "^workers: must be between 1 and 4096, not 0$"),
    (dict(alpha=0), "^alpha: must be in \\(0, 10\\), not 0$"),
    (dict(alpha=0.01, min_alpha=0.1), "^min_alpha: must not exceed alpha$"),
    (dict(cbow_mean=0), "^cbow_mean: deepdist supports only cbow_mean=1$"),
    (dict(ns_exponent=0.5), "^ns_exponent: deepdist supports only ns_exponent=0.75$"),
    (dict(compute_loss=True), "^compute_loss: not supported by deepdist.Word2Vec"),
    (dict(max_final_vocab=100), "^max_final_vocab: not supported by deepdist.Word2Vec"),
])
def test_bad_arguments_are_value_errors(corpus, kwargs, message):
    with pytest.raises(ValueError, match=message):
        deepdist.Word2Vec(corpus, **kwargs)


def test_bad_corpora_are_value_errors(corpus):
    with pytest.raises(ValueError, match="give exactly one of corpus, sentences and corpus_file"):
        deepdist.Word2Vec()
    with pytest.raises(ValueError, match="sentence 0 is a string"):
        deepdist.Word2Vec(["a b c"])
    with pytest.raises(ValueError, match="token 'a b' is not a non-empty string"):
        deepdist.Word2Vec([["a b"]])
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        deepdist.Word2Vec(corpus, bogus=1)


def test_query_errors(model, questions, tmp_path):
    with pytest.raises(KeyError):
        model.wv.most_similar(positive=["qqqqzzz"])
    with pytest.raises(ValueError, match="^topn: must be a positive number"):
        model.wv.most_similar(positive=["king"], topn=0)
    with pytest.raises(ValueError, match="^case_insensitive:"):
        model.wv.evaluate_word_analogies(questions, case_insensitive=False)
    missing = str(tmp_path / "q.txt")
    with pytest.raises(FileNotFoundError, match=f"^{missing}: no such file$"):
        model.wv.evaluate_word_analogies(missing)
    bad = tmp_path / "bad.txt"
    bad.write_text(": s\na b c\n")
    with pytest.raises(OSError, match="line 2: expected 4 words"):
        model.wv.evaluate_word_analogies(str(bad))


def test_file_errors(model, tmp_path):
    missing = str(tmp_path / "v.bin")
    with pytest.raises(FileNotFoundError, match=f"^{missing}: no such file$"):
        deepdist.load_word2vec_format(missing)
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nhello 1 2\n")
    with pytest.raises(OSError, match=str(bad)):
        deepdist.load_word2vec_format(str(bad))
    good = tmp_path / "good.txt"
    model.wv.save_word2vec_format(str(good), binary=False)
    with pytest.raises(ValueError, match="is in the word2vec text format, not binary=True"):
        deepdist.load_word2vec_format(str(good), binary=True)
    with pytest.raises(OSError, match="nowhere"):
        model.wv.save_word2vec_format(str(tmp_path / "nowhere" / "v.bin"))
    with pytest.raises(ValueError, match="^append: deepdist supports only append=False$"):
        model.wv.save_word2vec_format(str(good), append=True)
