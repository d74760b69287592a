"""Offline text corpora from Debian packages, for sequence tasks without a network:

- word lists (``wamerican``, ``wngerman``, ``wfrench``, ``witalian``, ``wspanish``, ``wdutch``
  in /usr/share/dict) for language identification of words;
- the King James Bible (``bible-kjv`` + ``bible-kjv-text``), read through the package's
  ``bible`` program (its data file is in the package's own compressed format).

``scripts/setup.sh`` installs them when run as root. A missing package raises
``DatasetNotFoundError`` saying which package to install.
"""
import os
import re
import shutil
import subprocess

import numpy as np

from ..datasets.errors import DatasetNotFoundError

DICT_DIR = "/usr/share/dict"
#: language code -> (file in /usr/share/dict, Debian package)
WORDLISTS = {"en": ("american-english", "wamerican"), "de": ("ngerman", "wngerman"),
             "fr": ("french", "wfrench"), "it": ("italian", "witalian"),
             "es": ("spanish", "wspanish"), "nl": ("dutch", "wdutch")}


def available_languages(root: str = DICT_DIR) -> list:
    """Language codes whose word list is installed."""
    return [k for k, (f, _) in WORDLISTS.items() if os.path.isfile(os.path.join(root, f))]


def load_wordlist(language: str, root: str = DICT_DIR, min_len: int = 3,
                  max_len: int = 16) -> list:
    """Lower-cased, purely alphabetic words of one language (no abbreviations in capitals, no
    possessives), sorted and without duplicates."""
    if language not in WORDLISTS:
        raise ValueError(f"load_wordlist: unknown language {language!r}; known: "
                         f"{sorted(WORDLISTS)}")
    name, pkg = WORDLISTS[language]
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"word list {path} not found: install the Debian package "
                                   f"(sudo apt install {pkg}), or run scripts/setup.sh as root")
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    # one regex pass in C over the whole file: lines of min_len..max_len letters
    found = re.findall(r"^[^\W\d_]{%d,%d}$" % (min_len, max_len), text, re.M)
    words = set("\n".join(w for w in found if not w.isupper()).lower().split("\n"))
    words.discard("")
    return sorted(words)


def language_id_split(languages=None, train_per_language: int = 2000,
                      test_per_language: int = 500, seed: int = 0, root: str = DICT_DIR,
                      **kw):
    """A held-out split BY WORD for language identification: words found in more than one
    list are dropped (their language is ambiguous); each language gives disjoint random train
    and test words. Returns ((train_words, train_labels), (test_words, test_labels),
    languages)."""
    languages = list(languages or available_languages(root))
    if len(languages) < 2:
        raise DatasetNotFoundError(
            f"language_id_split: need at least two word lists in {root}, found {languages}; "
            "install them: sudo apt install " + " ".join(p for _, p in WORDLISTS.values()))
    min_len, max_len = kw.get("min_len", 3), kw.get("max_len", 16)
    lines, everywhere = {}, {}
    for lang in languages:
        name, pkg = WORDLISTS[lang]
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            raise DatasetNotFoundError(f"word list {path} not found: install the Debian "
                                       f"package (sudo apt install {pkg})")
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        lines[lang] = text.split("\n")
        everywhere[lang] = set(text.lower().split())   # every word of the list, any form
    rng = np.random.default_rng(seed)
    n = train_per_language + test_per_language
    tr_w, tr_y, te_w, te_y = [], [], [], []
    for k, lang in enumerate(languages):
        # walk the list in a random order, keeping clean words no other list has
        picked, taken = [], set()
        for i in rng.permutation(len(lines[lang])):
            w = lines[lang][i].strip()
            if not (min_len <= len(w) <= max_len) or not w.isalpha() or w.isupper():
                continue
            w = w.lower()
            if w in taken or any(w in everywhere[o] for o in languages if o != lang):
                continue
            taken.add(w)
            picked.append(w)
            if len(picked) == n:
                break
        if len(picked) < n:
            raise ValueError(f"language_id_split: only {len(picked)} unambiguous {lang} words, "
                             f"{n} asked")
        tr_w += picked[:train_per_language]
        te_w += picked[train_per_language:]
        tr_y += [k] * train_per_language
        te_y += [k] * test_per_language
    return (tr_w, np.array(tr_y)), (te_w, np.array(te_y)), languages


_VERSE = re.compile(r"^\s*\d+\s+")


def load_kjv(bible_program: str = None) -> str:
    """The King James Bible as plain text, one verse per line (book and chapter headings and
    verse numbers removed), read with the ``bible`` program of Debian's ``bible-kjv``."""
    prog = bible_program or shutil.which("bible")
    if prog is None or not os.path.isfile("/usr/lib/bible.data") and bible_program is None:
        raise DatasetNotFoundError(
            "King James Bible not found: install the Debian packages (sudo apt install "
            "bible-kjv bible-kjv-text), or run scripts/setup.sh as root")
    try:
        raw = subprocess.run([prog, "-l9999", "Gen1:1-Rev22:21"], capture_output=True,
                             stdin=subprocess.DEVNULL, timeout=120, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise DatasetNotFoundError(f"could not read the Bible with {prog}: {e}") from None
    verses = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if _VERSE.match(line):
            verses.append(_VERSE.sub("", line).strip())
        elif line.strip() and verses and line.startswith(" "):
            verses[-1] += " " + line.strip()      # a wrapped verse (narrow terminals)
    if len(verses) < 30000:
        raise DatasetNotFoundError(f"{prog} gave only {len(verses)} verses; is bible-kjv-text "
                                   "installed?")
    return "\n".join(verses) + "\n"
