"""Text tools (tokenizer, Vocab, pad_sequences), TextVectorization and the IMDB reader on a
small npz written here in Keras's format."""
import io

import numpy as np
import pytest

from ember.data.datasets import DatasetNotFoundError, downloader
from ember.data.datasets.imdb import IMDB_NPZ, load_imdb
from ember.data.datasets.safe_pickle import UnsafePickleError
from ember.data.text import Tokenizer, Vocab, pad_sequences
from ember.keras import datasets, layers


def test_tokenizers():
    assert Tokenizer("word")("Hello, World!  It's OK.") == ["hello", "world", "its", "ok"]
    assert Tokenizer("char")("Ab, c") == ["a", "b", ",", " ", "c"]
    assert Tokenizer("char", lower=False, strip_punctuation=True)("A,b") == ["A", "b"]
    with pytest.raises(ValueError, match="level"):
        Tokenizer("sentence")


def test_vocab_min_freq_max_size_and_reserved_ids():
    texts = ["b a b c", "b c d", "a e"]
    v = Vocab.build(texts, Tokenizer(), min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "b", "a", "c"]        # count desc, ties by token
    assert (v.pad_id, v.oov_id) == (0, 1)
    assert v.encode(["b", "d", "zzz"]) == [2, 1, 1]
    assert v.decode([2, 0, 4]) == ["b", "c"]
    assert Vocab.build(texts, Tokenizer(), max_size=3).itos == ["<pad>", "<unk>", "b"]
    strict = Vocab(["x", "y", "x"], pad_token=None, oov_token=None)
    assert strict.itos == ["x", "y"]
    with pytest.raises(KeyError, match="not in the vocabulary"):
        strict["z"]


def test_pad_sequences_keras_options():
    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 0, 0]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, padding="post",
                                                truncating="post", value=-1),
                                  [[1, 2], [4, -1], [-1, -1]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4], [0, 0]])
    assert pad_sequences(seqs).dtype == np.int32
    assert pad_sequences([[0.5, 1.5]], dtype="float32").dtype == np.float32
    assert pad_sequences([np.ones((2, 3))], maxlen=3).shape == (1, 3, 3)
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        pad_sequences(seqs, padding="middle")


def test_text_vectorization_adapt_and_call():
    texts = ["The cat sat.", "The dog sat, the end!", "a cat"]
    tv = layers.TextVectorization(max_tokens=6)
    tv.adapt(texts)
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "a"]
    out = tv(["the cat ran", "sat"]).data
    np.testing.assert_array_equal(out, [[2, 3, 1], [4, 0, 0]])
    fixed = layers.TextVectorization(output_sequence_length=2, vocabulary=["cat", "dog"])
    np.testing.assert_array_equal(fixed(["dog cat cat"]).data, [[3, 2]])
    mh = layers.TextVectorization(output_mode="count", vocabulary=["cat", "dog"])
    np.testing.assert_array_equal(mh(["dog cat cat fish"]).data, [[0, 1, 2, 1]])
    chars = layers.TextVectorization(split="character", standardize="lower")
    chars.adapt(["abba"])
    assert chars.get_vocabulary() == ["", "[UNK]", "a", "b"]
    with pytest.raises(RuntimeError, match="adapt"):
        layers.TextVectorization()(["x"])


def _write_imdb(path, x_train, y_train, x_test, y_test):
    def obj(lists):
        a = np.empty(len(lists), object)
        for i, l in enumerate(lists):
            a[i] = l
        return a
    np.savez(path, x_train=obj(x_train), y_train=np.asarray(y_train), x_test=obj(x_test),
             y_test=np.asarray(y_test))


TRAIN = [[1, 14, 22], [5, 9], [30, 2, 7, 7], [4]]
TEST = [[8, 8], [3, 40, 1]]


def test_imdb_reader_keras_semantics(tmp_path):
    _write_imdb(tmp_path / "imdb.npz", TRAIN, [1, 0, 1, 0], TEST, [0, 1])
    (xt, yt), (xs, ys) = load_imdb(root=tmp_path, num_words=20)
    assert xt.dtype == object and len(xt) == 4 and len(xs) == 2
    order = np.arange(4)
    np.random.RandomState(113).shuffle(order)
    for got, i in zip(xt, order):
        want = [1] + [w + 3 if w + 3 < 20 else 2 for w in TRAIN[i]]
        assert got == want
    np.testing.assert_array_equal(yt, np.array([1, 0, 1, 0])[order])
    # maxlen drops long reviews (length with the start char >= maxlen); oov_char=None removes
    (xt2, yt2), _ = load_imdb(root=tmp_path, maxlen=4, oov_char=None, num_words=10)
    assert all(len(x) < 4 for x in xt2) and len(xt2) == len(yt2) == 2
    assert all(w < 10 for x in xt2 for w in x)
    # the Keras-named entry point
    (k_xt, _), _ = datasets.imdb.load_data(root=tmp_path, num_words=20)
    assert [list(x) for x in k_xt] == [list(x) for x in xt]


def test_imdb_missing_file_message_and_checksummed_download(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetNotFoundError, match="download=True") as e:
        load_imdb()
    assert "imdb.npz" in str(e.value) and "Looked in" in str(e.value)
    src = tmp_path / "src.npz"
    _write_imdb(src, TRAIN, [1, 0, 1, 0], TEST, [0, 1])
    blob = src.read_bytes()
    monkeypatch.setattr(downloader, "fetch", lambda url: io.BytesIO(blob))
    # our small file is not Keras's: the published checksum refuses it and nothing is kept
    with pytest.raises(downloader.ChecksumError):
        load_imdb(download=True)
    assert not any((tmp_path / "nowhere").rglob("imdb.npz"))
    import hashlib
    monkeypatch.setattr("ember.data.datasets.imdb.IMDB_NPZ", downloader.Resource(
        "imdb.npz", IMDB_NPZ.urls, sha256=hashlib.sha256(blob).hexdigest()))
    (xt, _), _ = load_imdb(download=True)
    assert len(xt) == 4 and (tmp_path / "nowhere" / "imdb" / "imdb.npz").is_file()


def test_imdb_refuses_code_in_the_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    bad = np.empty(1, object)
    bad[0] = Evil()
    np.savez(tmp_path / "imdb.npz", x_train=bad, y_train=np.zeros(1), x_test=bad,
             y_test=np.zeros(1))
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        load_imdb(root=tmp_path)


def test_offline_corpora_say_what_to_install(tmp_path, monkeypatch):
    from ember.data.datasets.vega import load_vega_series
    from ember.data.text.corpora import language_id_split, load_wordlist
    with pytest.raises(DatasetNotFoundError, match="apt install wngerman"):
        load_wordlist("de", root=str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="at least two word lists"):
        language_id_split(root=str(tmp_path))
    monkeypatch.setattr("ember.data.datasets.vega.SYSTEM_DIRS", ())
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="python3-vega-datasets"):
        load_vega_series(root=tmp_path / "none")


def test_word_lists_and_vega_series_read(tmp_path):
    from ember.data.datasets.vega import load_vega_series
    from ember.data.text.corpora import language_id_split, load_wordlist
    (tmp_path / "american-english").write_text("Cat\ncat's\nNASA\ndog\nzebra\nox\n")
    (tmp_path / "ngerman").write_text("Hund\nKatze\nzebra\nBaum\n")
    assert load_wordlist("en", root=str(tmp_path)) == ["cat", "dog", "zebra"]
    (tr, ytr), (te, yte), langs = language_id_split(["en", "de"], 1, 1, root=str(tmp_path))
    assert langs == ["en", "de"] and "zebra" not in tr + te        # ambiguous word dropped
    assert set(tr[:1] + te[:1]) <= {"cat", "dog"} and set(tr[1:] + te[1:]) <= {"hund", "katze",
                                                                             "baum"}
    (tmp_path / "vega").mkdir()
    (tmp_path / "vega" / "s.csv").write_text("date,temp\n2010/01/01 00:00,39.4\n"
                                             "2010/01/01 01:00,39.2\n")
    dates, v = load_vega_series("s.csv", "temp", root=tmp_path)
    np.testing.assert_array_equal(v, [39.4, 39.2])
    assert dates[1] == "2010/01/01 01:00"
