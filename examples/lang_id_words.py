"""Language identification of single words from the Debian word lists (English, German, French,
Italian, Spanish, Dutch): a character-level Embedding + bidirectional GRU over packed sequences,
against a bag-of-characters softmax baseline trained on the same words.

    python examples/lang_id_words.py [--train-per-language 2000] [--epochs 8]

Held-out split by word (a word in two lists is dropped). Needs the wamerican, wngerman, wfrench,
witalian, wspanish and wdutch packages (scripts/setup.sh installs them as root). The data comes
from ember.data.sequence_tasks, as for the config examples/langid_words.toml.
"""
import argparse
import time

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.data.sequence_tasks import bag_of_chars, language_id_task
from ember.nn.utils.rnn import pack_padded_sequence


class CharGRU(nn.Module):
    """chars -> Embedding -> BiGRU (packed: padding never enters) -> [h_fwd, h_bwd] -> Linear."""

    def __init__(self, n_chars, n_classes, emb=24, hidden=96):
        super().__init__()
        self.emb = nn.Embedding(n_chars, emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_classes)

    def forward(self, x, lens):
        packed = pack_padded_sequence(self.emb(x), lens, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)                       # (2, B, H): last step of each direction
        return self.out(ember.cat([h[0], h[1]], -1))


def accuracy(logits, y):
    return float((logits.data.argmax(1) == y).mean())


def train_baseline(xtr, ytr, n_chars, n_classes, steps=300, lr=0.05):
    """Softmax regression on bag-of-characters features (full batch, Adam)."""
    feats = ember.Tensor(bag_of_chars(xtr, n_chars))
    model = nn.Linear(n_chars, n_classes)
    opt = ember.optim.Adam(model.parameters(), lr=lr)
    target = ember.Tensor(ytr)
    for _ in range(steps):
        loss = F.cross_entropy(model(feats), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def train_gru(xtr, ltr, ytr, n_chars, n_classes, epochs=8, batch_size=64, lr=3e-3, seed=0,
              hidden=96, verbose=True):
    model = CharGRU(n_chars, n_classes, hidden=hidden)
    opt = ember.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(xtr))
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            width = ltr[b].max()                      # trim the batch to its longest word
            loss = F.cross_entropy(model(ember.Tensor(xtr[b, :width]), ltr[b]),
                                   ember.Tensor(ytr[b]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item() * len(b)
        if verbose:
            print(f"epoch {epoch + 1}: loss {total / len(xtr):.4f} "
                  f"({time.perf_counter() - t0:.1f} s)")
    return model


def predict(model, x, lens, batch_size=512):
    model.eval()
    out = []
    with ember.no_grad():
        for s in range(0, len(x), batch_size):
            w = lens[s:s + batch_size].max()
            out.append(model(ember.Tensor(x[s:s + batch_size, :w]), lens[s:s + batch_size]).data)
    return ember.Tensor(np.concatenate(out))


def run(train_per_language=2000, test_per_language=500, epochs=8, seed=0, hidden=96,
        verbose=True):
    """Returns (GRU held-out accuracy, baseline held-out accuracy, languages)."""
    ember.manual_seed(seed)
    task = language_id_task(train_per_language=train_per_language,
                            test_per_language=test_per_language, seed=seed)
    xtr, ytr, xte, yte = task.x_train, task.y_train, task.x_test, task.y_test
    ltr, lte = task.extra["train_lengths"], task.extra["test_lengths"]
    vocab, langs = task.extra["vocab"], task.extra["languages"]
    base = train_baseline(xtr, ytr, len(vocab), len(langs))
    base_acc = accuracy(base(ember.Tensor(bag_of_chars(xte, len(vocab)))), yte)
    model = train_gru(xtr, ltr, ytr, len(vocab), len(langs), epochs=epochs, seed=seed,
                      hidden=hidden, verbose=verbose)
    acc = accuracy(predict(model, xte, lte), yte)
    return acc, base_acc, langs


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-per-language", type=int, default=2000)
    p.add_argument("--test-per-language", type=int, default=500)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    acc, base_acc, langs = run(a.train_per_language, a.test_per_language, a.epochs, a.seed,
                               a.hidden)
    print(f"languages: {', '.join(langs)}; {a.train_per_language} train / "
          f"{a.test_per_language} held-out words each")
    print(f"bag-of-characters baseline held-out accuracy: {base_acc:.3f}")
    print(f"char BiGRU held-out accuracy: {acc:.3f}  ({time.perf_counter() - t0:.0f} s)")
