"""Acceptance on real offline data (Debian packages; skipped with the package to install when
absent): language identification of held-out words beats a bag-of-characters baseline, and
a character LSTM on the King James Bible beats a unigram character model's perplexity by >25%.

Sizes are cut down to stay under ~40 s on a shared 2-core machine; the examples' defaults
train longer (examples/lang_id_words.py: 0.85 held-out accuracy with 2000 words/language).
"""
import importlib.util
import os

import pytest

from ember.data.datasets import DatasetNotFoundError
from ember.ops import nn_rnn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Stated in the closing note of issue 14 and held here: 6 languages, 600 training and 250
# held-out words each, 5 epochs of a 64-unit BiGRU (measured: 0.79; char-LM ppl 8.5 vs 20.7).
LANG_ID_MIN_ACCURACY = 0.72   # measured 0.79 (baseline 0.54) with this seed


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples",
                                                                     name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small GEMMs on one OpenBLAS thread: on a loaded 2-core machine a second BLAS thread
    makes these mid-size products 10x slower (results do not depend on it)."""
    local = nn_rnn._LOCAL_THREADS
    prev = local(1) if local is not None else None
    yield
    if local is not None:
        local(prev)


def test_language_id_beats_bag_of_characters():
    lang = _example("lang_id_words")
    try:
        acc, base_acc, langs = lang.run(train_per_language=600, test_per_language=250,
                                        epochs=5, hidden=64, verbose=False)
    except DatasetNotFoundError as e:
        pytest.skip(f"word lists missing: {e}")
    assert len(langs) >= 4
    assert acc >= LANG_ID_MIN_ACCURACY, (acc, base_acc)
    assert acc > base_acc + 0.05, (acc, base_acc)


def test_char_lm_beats_unigram_perplexity():
    lm = _example("char_lm_kjv")
    try:
        model, vocab, ppl, unigram = lm.run(steps=120, hidden=128, batch_size=32, seq_len=64,
                                            val_chars=20000, verbose=False)
    except DatasetNotFoundError as e:
        pytest.skip(f"King James Bible missing: {e}")
    assert unigram > 10          # sanity: ~70 symbols, English letter frequencies
    assert ppl <= 0.75 * unigram, (ppl, unigram)
    text = lm.sample(model, vocab, prompt="And ", length=40, temperature=0.5)
    assert text.startswith("And ") and len(text) == 44
    assert set(text) <= set(vocab.itos)
