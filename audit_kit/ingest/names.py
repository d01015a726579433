"""Person names in free text, in any grammatical case and with ё or е (DESIGN §3).

Russian names decline («Иванова» → «перезвонить Ивановой», «Пётр» → «Петра»), so words are compared
by lemma: pymorphy3 (OpenCorpora dictionaries) gives each word its possible lemmas and tags first
names, surnames and patronymics (grammemes Name / Surn / Patr) with a probability.

A word is masked when
- **known**: its folded form (lower case, ё→е) is a word of a name column, or the lemma of one of its
  name readings is the lemma of such a word («Ивановой», «Петрову», «Петр» for «Иванова Мария»,
  «Петров Пётр»). A lower-case word the dictionary knows needs its name readings to carry at least
  `LOWER_SHARE` of the probability: «лечение зубов» stays when a patient is called Зубов, «розы» when
  one is called Роза; or
- **a name in no name column**: a capitalised word whose name readings carry at least `LONE_SHARE`
  of the probability («перезвонить Ольге»), or a capitalised word with any name reading next to
  another name word (name readings at least `PAIR_SHARE`, or a known name) or to an initial
  («Петров Пётр», «Петров П.», «Вера Петрова»). Common nouns that are also names («Вера», «Роза»,
  «Лев», «Любовь», «Надежда», «Слава») fall below `LONE_SHARE` and are masked only in such a pair.

Initials stay («[имя] П.»), as do words of fewer than three letters. Each distinct word is analysed
once (cached); the text is cut into words and separators once per distinct cell, so the cost grows
with the length of the text.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

NAME_TOKEN_MIN = 3          # initials and short particles are not masked on their own
PERSON = frozenset({"Name", "Surn", "Patr"})
LONE_SHARE = 0.75           # a capitalised word alone: first names, patronymics, most surnames
PAIR_SHARE = 0.5            # the partner that makes a weakly tagged capitalised neighbour a name
LOWER_SHARE = 0.25          # a lower-case word matched to a name column by lemma
TOKEN_PATTERN = r"\w+|\W+"   # words and the separators between them, alternating
# Endings of Russian surnames in any case (Иванов, Петровой, Ильиным, Сидоровых, Белинского): a word
# the dictionary lacks is sent to the analyser's guesser only if capitalised with such an ending, or
# if it begins like a name of a name column.
SURNAME_END = re.compile(r"(?:ов|ев|ин|ын|ск|цк|ич|на)(?:а|у|ым|ом|е|ой|ою|ых|ыми|ы|ий|ая|ое|ого|ому|им|ую|ие|их|ими)?$")
PREFIX = 4
MASCULINE = {"ова": "ов", "ева": "ев", "ина": "ин", "ына": "ын", "ская": "ский", "цкая": "цкий"}
FEMININE = re.compile(r"(?:ова|ева|ина|ына|ская|цкая)$")


def fold(word: str) -> str:
    return word.lower().replace("ё", "е")


@lru_cache(maxsize=1)
def _analyser():
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def _cyrillic(word: str) -> bool:
    return len(word) >= NAME_TOKEN_MIN and word.isalpha() and any("а" <= c <= "я" or c == "ё" for c in word)


@lru_cache(maxsize=1 << 17)
def dictionary_reading(word: str) -> tuple[int, frozenset[str]]:
    """A lower-case word in the dictionary: (0 absent, 1 present with no name reading, 2 with one; the
    lemmas of its name readings, folded). A lookup without the analyser's guesser and probabilities."""
    morph = _analyser()
    found = morph.dictionary.words.similar_items(word, morph.char_substitutes)
    lemmas = {fold(morph.dictionary.build_normal_form(para, idx, fixed)) for fixed, parses in found
              for para, idx in parses if PERSON & morph.dictionary.build_tag_info(para, idx).grammemes}
    return (0 if not found else 2 if lemmas else 1), frozenset(lemmas)


@lru_cache(maxsize=1 << 17)
def analyse(word: str) -> tuple[float, frozenset[str]]:
    """(share of the probability on readings as a first name, surname or patronymic, their lemmas
    folded) for a lower-case word; words with digits, Latin letters or under three letters get none."""
    if not _cyrillic(word):
        return 0.0, frozenset()
    share, lemmas = 0.0, set()
    for parse in _analyser().parse(word):
        if PERSON & parse.tag.grammemes:
            share += parse.score
            lemmas.add(fold(parse.normal_form))
    return min(share, 1.0), frozenset(lemmas)


@lru_cache(maxsize=8)
def known_lemmas(tokens: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The folded words of the name columns with the lemmas of their name readings in the dictionary
    (a surname the dictionary lacks: its masculine form, as the guesser gives it for a declined form),
    and the first `PREFIX` letters of each (a declined form the dictionary lacks begins like its name)."""
    out = set(tokens)
    for token in tokens:
        if _cyrillic(token):
            out |= dictionary_reading(token)[1]
            out |= {FEMININE.sub(lambda m: MASCULINE[m.group()], token)}
    return frozenset(out), frozenset(w[:PREFIX] for w in out)


def _word_features(words: np.ndarray, tokens: frozenset[str]) -> dict[str, np.ndarray]:
    """Per distinct word as written: known name, name share, title case, a capital letter alone, and
    `guess`: a capitalised word the dictionary lacks, left unanalysed (see `name_words`)."""
    lemmas, prefixes = known_lemmas(tokens)
    n = len(words)
    f = {"known": np.zeros(n, bool), "share": np.zeros(n), "title": np.zeros(n, bool),
         "single": np.zeros(n, bool), "guess": np.zeros(n, bool)}
    for i, word in enumerate(words):
        capital = word[:1].isupper()
        folded, lower = fold(word), word.lower()
        f["title"][i] = capital and (len(word) == 1 or word[1:].islower())
        f["single"][i] = len(word) == 1 and capital
        exact = folded in tokens and len(folded) >= NAME_TOKEN_MIN
        f["known"][i] = exact
        if not _cyrillic(lower) or not (capital or tokens):      # lower case: only a name column's name
            continue
        reading = dictionary_reading(lower)[0]
        if reading == 1:                  # an ordinary word the dictionary knows no name reading of
            f["known"][i] = exact and capital
            continue
        if reading == 0 and folded[:PREFIX] not in prefixes and not (capital and SURNAME_END.search(folded)):
            f["guess"][i] = capital
            continue
        share, word_lemmas = analyse(lower)
        f["share"][i] = share
        f["known"][i] = (exact or bool(word_lemmas & lemmas)) and (capital or reading == 0 or share >= LOWER_SHARE)
    return f


def split_words(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Non-missing cells cut into alternating words and separators: (the tokens, the position of each
    token's cell in `cells`)."""
    pieces = cells.astype(object).str.findall(TOKEN_PATTERN)
    lengths = pieces.str.len().to_numpy(int)
    text = np.asarray(pieces.explode().dropna().to_numpy(dtype=object))
    return text, np.repeat(np.arange(len(cells)), lengths)


def name_words(text: np.ndarray, cell: np.ndarray, tokens: frozenset[str]) -> np.ndarray:
    """Bool per token: a word of a person's name (module docstring)."""
    n = len(text)
    is_word = np.fromiter((t[0].isalnum() or t[0] == "_" for t in text), bool, n)
    codes = np.full(n, -1)
    codes[is_word], uniques = pd.factorize(pd.Series(text[is_word], dtype=object))
    uniques = np.asarray(uniques, dtype=object)
    f = _word_features(uniques, tokens)
    # The separator after each token (the next token of the same cell; words and separators alternate).
    same_next = np.zeros(n, bool)
    same_next[:-1] = cell[1:] == cell[:-1]
    following = np.full(n, "", dtype=object)
    following[:-1] = np.where(same_next[:-1], text[1:], "")
    sep = pd.Series(following, dtype=object)
    word = np.flatnonzero(is_word)
    single = np.zeros(n, bool)
    single[word] = f["single"][codes[word]]
    initial = single & sep.str.startswith(".").to_numpy(bool)
    # Word i and word i+2 belong to one name when the separator between them is spaces or a hyphen,
    # or when word i is an initial («П. Петров»).
    sep_ok = sep.str.fullmatch(r"\s+|\s*-\s*").to_numpy(bool) | (initial & sep.str.fullmatch(r"\.\s+").to_numpy(bool))
    joined = np.zeros(n, bool)
    joined[:-2] = is_word[:-2] & sep_ok[:-2] & same_next[:-2] & same_next[1:-1] & is_word[2:]
    at = np.flatnonzero(joined)

    def per_token(name: str) -> np.ndarray:
        out = np.zeros(n, f[name].dtype)
        out[word] = f[name][codes[word]]
        return out

    def beside(flags: np.ndarray) -> np.ndarray:
        near = np.zeros(n, bool)
        near[at] |= flags[at + 2]
        near[at + 2] |= flags[at]
        return near

    # A capitalised word the dictionary lacks is analysed (guessed) only beside a name word or an initial.
    maybe = per_token("known") | (per_token("share") > 0) | initial
    guess = np.unique(codes[per_token("guess") & beside(maybe)])
    for code in guess:
        f["share"][code] = analyse(uniques[code].lower())[0]
    known, share, title = per_token("known"), per_token("share"), per_token("title")
    candidate = title & (share > 0)
    partner = known | (candidate & (share >= PAIR_SHARE)) | initial
    return is_word & ~initial & (known | (candidate & ((share >= LONE_SHARE) | beside(partner))))


def mask(distinct: pd.Series, tokens: frozenset[str], mark: str) -> tuple[pd.Series, pd.Series]:
    """Name words of the distinct cells replaced by `mark`; returns (cells, bool mask of cells changed)."""
    present = distinct.notna().to_numpy(bool)
    hit = np.zeros(len(distinct), bool)
    text, cell = split_words(distinct[present]) if present.any() else (np.zeros(0, object), np.zeros(0, int))
    name = name_words(text, cell, tokens) if len(text) else np.zeros(0, bool)
    if not name.any():
        return distinct, pd.Series(hit, index=distinct.index)
    positions = np.flatnonzero(present)
    changed = np.zeros(len(positions), bool)
    changed[cell[name]] = True
    hit[positions[changed]] = True
    keep = changed[cell]
    rebuilt = pd.Series(np.where(name, mark, text)[keep], index=cell[keep]).groupby(level=0, sort=True).agg("".join)
    out = distinct.copy()
    out.iloc[positions[changed]] = rebuilt.to_numpy(dtype=object)
    return out, pd.Series(hit, index=distinct.index)
