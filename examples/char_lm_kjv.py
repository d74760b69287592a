"""A character-level language model on the King James Bible: Embedding -> LSTM -> Linear,
trained with truncated backpropagation through time on random windows; reports validation
perplexity next to a unigram character model's, and samples text with a temperature.

    python examples/char_lm_kjv.py [--steps 2000] [--hidden 256] [--temperature 0.7]

Perplexity = exp(mean cross-entropy per character) on held-out text (the last 10% of verses).
Needs Debian's bible-kjv and bible-kjv-text (scripts/setup.sh installs them as root). The data
comes from ember.data.sequence_tasks, as for the config examples/charlm_kjv.toml.
"""
import argparse
import math
import time

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.data.sequence_tasks import (char_windows as windows, consecutive_starts, kjv_ids,
                                       unigram_perplexity)


class CharLM(nn.Module):
    def __init__(self, n_chars, emb=32, hidden=256, num_layers=1):
        super().__init__()
        self.emb = nn.Embedding(n_chars, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=num_layers, batch_first=True)
        self.out = nn.Linear(hidden, n_chars)

    def forward(self, x, state=None):
        y, state = self.lstm(self.emb(x), state)
        return self.out(y), state


def evaluate(model, ids, seq_len=128, batch_size=64, max_chars=None):
    """Validation perplexity over consecutive windows (each predicted from its own start)."""
    starts = consecutive_starts(len(ids), seq_len, max_chars)
    model.eval()
    total, count = 0.0, 0
    with ember.no_grad():
        for s in range(0, len(starts), batch_size):
            x, y = windows(ids, starts[s:s + batch_size], seq_len)
            logits, _ = model(ember.Tensor(x))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   ember.Tensor(y.reshape(-1)))
            total += loss.item() * y.size
            count += y.size
    return math.exp(total / count)


def train(model, ids, steps=2000, batch_size=32, seq_len=100, lr=3e-3, seed=0, log_every=200,
          verbose=True):
    opt = ember.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        x, y = windows(ids, rng.integers(0, len(ids) - seq_len - 1, batch_size), seq_len)
        logits, _ = model(ember.Tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ember.Tensor(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if verbose and step % log_every == 0:
            dt = time.perf_counter() - t0
            print(f"step {step}: train loss {loss.item():.3f} ({step / dt:.1f} steps/s)")
    return model


def sample(model, vocab, prompt="And God said", length=200, temperature=0.7, seed=0):
    """Continue ``prompt`` one character at a time: p ~ softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    model.eval()
    out = list(prompt)
    with ember.no_grad():
        logits, state = model(ember.Tensor(np.array([vocab.encode(prompt)])))
        for _ in range(length):
            z = logits.data[0, -1].astype(np.float64) / max(temperature, 1e-6)
            p = np.exp(z - z.max())
            p /= p.sum()
            c = int(rng.choice(len(p), p=p))
            out.append(vocab.itos[c])
            logits, state = model(ember.Tensor(np.array([[c]])), state)
    return "".join(out)


def run(steps=2000, hidden=256, batch_size=32, seq_len=100, lr=3e-3, seed=0, val_chars=None,
        verbose=True):
    """Returns (model, vocab, validation perplexity, unigram perplexity)."""
    ember.manual_seed(seed)
    vocab, tr, va = kjv_ids()
    if val_chars:
        va = va[:val_chars]
    model = CharLM(len(vocab), hidden=hidden)
    train(model, tr, steps, batch_size, seq_len, lr, seed, verbose=verbose)
    return model, vocab, evaluate(model, va), unigram_perplexity(tr, va, len(vocab))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    model, vocab, ppl, uni = run(a.steps, a.hidden, a.batch_size, a.seq_len, a.lr, a.seed)
    print(f"validation perplexity {ppl:.2f} (unigram character model {uni:.2f}; "
          f"{100 * (1 - ppl / uni):.0f}% lower) after {time.perf_counter() - t0:.0f} s")
    for t in (0.5, a.temperature, 1.0):
        print(f"--- temperature {t}:\n{sample(model, vocab, temperature=t, seed=a.seed)}")
