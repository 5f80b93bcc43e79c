"""Which target-language symbols start step 2 from a source-language embedding row.

At this scale step 2 transfers only from an anchored init (docs/results.md): rows
of target symbols that mean what a source symbol means start from that symbol's
embedding, and pin the new matrix to the body's space. The anchors come from the
two vocabularies alone (symbols and their counts in ``dict.txt``, i.e. monolingual
text); no parallel data is used. Three tiers, the first that matches wins:

1. **exact**: the target symbol is spelled as a source symbol (names, numbers,
   punctuation, shared subwords). ``--embedding-init shared`` stops here.
2. **romanised**: the target symbol romanised by ``uroman`` (the universal
   romaniser of USC/ISI; language-aware through the ISO 639-3 code, which the
   library's own table maps from our 2-letter data codes) is spelled as a source
   symbol: ``Давид`` -> ``David``, ``Jésus`` -> ``Jesus``; case-blind for
   scripts without case (Arabic ``آسا`` asa -> ``Asa``).
3. **name**: a source *name* (a capitalised word-initial symbol) whose consonant
   skeleton equals the romanised target symbol's, under the letter classes by
   which names change spelling between languages (b/v, f/ph, k/c/q/ch/kh,
   s/z/ts/sh; i/j/y are vowels, u/w after a vowel is a v, a final h is silent;
   :func:`skeleton`), the most similar spelling first: ``Вавилон`` Vavilon ->
   ``Babylon``, ``ابراهيم`` abrahym -> ``Abraham``, ``दाऊद`` daauud -> ``David``,
   ``アブラハム`` aburahamu -> ``Abraham``, ``Salomon`` -> ``Solomon``. It
   replaces the hand-written Cyrillic table and its name-spelling variants
   (which ``benchmarks/anchor_quality.py`` keeps, to measure against) and
   works for every script uroman reads.

The guards of the name tier were set by measurement over ten languages
(``benchmarks/anchor_quality.py`` scores each pair by its co-occurrence in the
verse-aligned Bible; docs/results.md, "Anchors for every script"; the alignment is
used for measuring only): each keeps out a group of pairs of which the alignment
supports fewer than half.

- names need 3+ consonants in the skeleton (``Иаков``/``ヤコブ`` -> ``akb`` is
  too short to tell names apart: 170 of 455 more supported), a spelling
  similarity of 0.7, and the summed relative frequency of the target forms with
  that skeleton (a name's cases: ``Израиль``, ``Израиля``, ``Израилю``) within a
  factor of 2 of the English name's (a factor of 4: 61 of 145 more supported;
  summed, 623 of 697 name pairs are supported, 89 %; each form on its own, 672
  of 816, 82 %);
- symbols with Han ideographs or hiragana are not romanised: their readings are
  not the spellings names are borrowed with (9 of 40 such pairs supported,
  against 38 of 43 Japanese katakana names).

The romanised tier has no length or frequency guard, although short matches
are right less often (1-2 letters: 58 of 126 supported; 3-4-letter false
friends such as ``год`` 'year' -> ``god``): transfer follows the share of the
target text the anchors cover more than their precision. Russian, one seed,
full model: with both guards 151 rows covering 15 % of the text, 28.0 %
(the majority class); guarding whole words only, 240 rows and 28 %, 35.2 %;
no guard, 304 rows and 34 %, 38.7 % (docs/results.md).

Scripts written without spaces (Chinese, Japanese: fewer than a quarter of the
target symbols are word-initial) are matched without the word-start marker, so
a mid-text piece ``アブラハム`` anchors to the word ``▁Abraham``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from pathlib import Path

from .files import atomic_write

WORD = "\u2581"  # sentencepiece's word-start marker

TIERS = ("exact", "romanised", "name")
NAME_CONSONANTS = 3  # min consonants in a name's skeleton
NAME_RATIO = (
    2.0  # max ratio of the relative frequencies: the target forms with the skeleton / the name
)
NAME_FAMILY = True  # compare the summed frequency of the target forms with the same skeleton (False: each form)
NAME_SIMILARITY = 0.7  # min 1 - edit distance / length between the two normalised spellings
UNSPACED = 0.25  # below this share of word-initial target symbols, a script has no spaces

# how the same name is spelled across languages: one class per group of letters
_DIGRAPHS = (
    ("sch", "s"),
    ("ph", "f"),
    ("th", "t"),
    ("kh", "h"),
    ("ch", "h"),
    ("sh", "s"),
    ("ts", "s"),
    ("ck", "k"),
    ("gh", "g"),
)
_CLASSES = {"c": "k", "q": "k", "v": "b", "z": "s", "x": "ks"}
_VOWELS = frozenset(
    "aeiouyjw"
)  # j/y: Iakov/Jacob; w: a word-initial Arabic waw is 'and' (wbnyamyn)


class AnchorError(ValueError):
    """The romaniser is missing or cannot be used; the message says what to do."""


# --------------------------------------------------------------------------- romanisation


@functools.cache
def _uroman():
    try:
        import uroman
    except ImportError:
        raise AnchorError(
            "--embedding-init shared_translit needs the uroman romaniser: install it with "
            "'.venv/bin/pip install uroman==1.3.1.1' (scripts/setup.sh does), or use --embedding-init shared"
        ) from None
    return uroman.Uroman()  # loads its tables once per process (seconds)


@functools.cache
def _iso_codes() -> dict:
    """{code: ISO 639-3 code} for the 3-letter codes and the old 2-letter ones (de -> deu), from uroman's table."""
    import uroman

    table = Path(uroman.__file__).parent / "data" / "ISO-639-3-list.txt"
    codes = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        m = re.match(r"::lang-code (\w+)", line)
        if not m:
            continue
        codes[m.group(1)] = m.group(1)
        old = re.search(r"::deprecated-lang-codes ([^:]*)", line)
        for c in old.group(1).split(";") if old else []:
            codes.setdefault(c.strip(), m.group(1))
    return codes


def iso639_3(lang: str | None) -> str | None:
    """uroman's language code for a data code (``ru`` -> ``rus``, ``zh`` -> ``zho``), None if unknown."""
    if not lang:
        return None
    try:
        return _iso_codes().get(lang.lower())
    except ImportError:
        return None


_ROMAN: dict = {}  # lcode -> {text: romanisation}, loaded from and saved to the disk cache


def cache_file(lcode) -> Path:
    """Where romanisations for one language are kept between processes: uroman loads its tables for
    seconds (9 s measured on this project's loaded CPU machine) before romanising a 4000-symbol vocabulary
    in about 3 s, and every step-2 run would pay both. $MINIMODEL_CACHE, else ~/.cache/minimodel_fairseq."""
    from importlib.metadata import version

    root = Path(os.environ.get("MINIMODEL_CACHE") or Path.home() / ".cache" / "minimodel_fairseq")
    return root / f"uroman-{version('uroman')}-{lcode or 'any'}.json"


def romanise(symbols, lang: str | None = None) -> list:
    """Each symbol romanised by uroman (language-aware when ``lang`` is known); ASCII symbols unchanged.

    One call per symbol (one call for the whole vocabulary, joined by newlines, gives the same
    output in twice the time); results are cached in memory and on disk (:func:`cache_file`).
    """
    lcode = iso639_3(lang)
    bodies = [sym.lstrip(WORD) for sym in symbols]
    todo = {b for b in bodies if not b.isascii()}
    cache = _ROMAN.get(lcode)
    if cache is None and todo:
        try:
            cache = json.loads(cache_file(lcode).read_text(encoding="utf-8"))
        except (OSError, ValueError, ImportError):
            cache = {}
        _ROMAN[lcode] = cache
    missing = sorted(todo - set(cache or ()))
    if missing:
        cache.update((b, _uroman().romanize_string(b, lcode=lcode)) for b in missing)
        try:
            path = cache_file(lcode)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(
                path,
                lambda tmp: Path(tmp).write_text(
                    json.dumps(cache, ensure_ascii=False), encoding="utf-8"
                ),
            )
        except OSError:
            pass  # a read-only home: romanise again next time
    return [
        sym if body.isascii() else sym[: len(sym) - len(body)] + cache[body]
        for sym, body in zip(symbols, bodies)
    ]


# --------------------------------------------------------------------------- spelling keys


def _letters(word: str) -> str:
    """Lower-case ASCII letters of a Latin word, diacritics dropped (Moïse -> moise)."""
    w = unicodedata.normalize("NFKD", word).lower()
    return "".join(c for c in w if "a" <= c <= "z")


def normalise(word: str) -> str:
    """A name's spelling with the letter classes applied, each vowel run as 'a', doubles single."""
    w = _letters(word)
    for a, b in _DIGRAPHS:
        w = w.replace(a, b)
    out, prev = [], ""
    for c in w:
        if c in "uw" and prev in ("a", "e", "i", "o"):
            x = "b"  # u/w after a vowel is the v of a name: dawd, daauud (Dāūd) -> David
        else:
            x = "a" if c in _VOWELS else _CLASSES.get(c, c)
        prev = c
        for y in x:
            if not out or out[-1] != y:
                out.append(y)
    s = "".join(out)
    return s[:-1] if len(s) > 2 and s.endswith("h") else s  # final h is silent (Jeremiah, Judah)


def skeleton(word: str) -> str:
    """The consonant skeleton of a name: ``David``, ``dawd`` -> ``dbd``; an initial vowel is kept as 'a'."""
    s = normalise(word)
    return ("a" if s[:1] == "a" else "") + s.replace("a", "")


def _consonants(skel: str) -> int:
    return len(skel.lstrip("a"))


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def similarity(a: str, b: str) -> float:
    """1 - edit distance / length of the two normalised spellings."""
    a, b = normalise(a), normalise(b)
    return 1 - _distance(a, b) / max(len(a), len(b), 1)


# --------------------------------------------------------------------------- matching


def _frequencies(d):
    counts = list(d.count)
    total = sum(counts) or 1
    return [max(c, 1) / total for c in counts]


def _ratio(a: float, b: float) -> float:
    return max(a / b, b / a)


def _is_name(sym: str) -> bool:
    return sym.startswith(WORD) and sym[1:2].isupper()


def _phonetic(sym: str) -> bool:
    """False for symbols with Han ideographs or hiragana (their readings are not name spellings)."""
    return not any(unicodedata.name(c, "").startswith(("CJK", "HIRAGANA")) for c in sym)


def _caseless(sym: str) -> bool:
    return sym.lower() == sym.upper()


def match_tiers(target, source, lang: str | None = None, romanised: bool = True) -> dict:
    """{target position: (source position, tier)} for the target symbols that get a source row.

    ``target``, ``source``: fairseq ``Dictionary`` objects (``symbols`` and ``count``:
    the symbols and their counts in each language's own text). ``lang``: the target
    language's code, for uroman (``ru``, ``ara``...; None: language-independent).
    ``romanised=False``: exact matches only (``--embedding-init shared``).
    """
    src_index = {s: j for j, s in enumerate(source.symbols)}
    found = {i: (src_index[s], "exact") for i, s in enumerate(target.symbols) if s in src_index}
    if not romanised:
        return found
    tf, sf = _frequencies(target), _frequencies(source)
    rest = [
        i
        for i in range(len(target.symbols))
        if i not in found and not _special(target, i) and _phonetic(target.symbols[i])
    ]
    roman = dict(zip(rest, romanise([target.symbols[i] for i in rest], lang)))
    lower = {}
    for j, s in enumerate(source.symbols):
        if lower.get(s.lower()) is None or sf[j] > sf[lower[s.lower()]]:
            lower[s.lower()] = j
    for i, r in roman.items():
        j = src_index.get(r)
        if j is None and _caseless(target.symbols[i]):
            j = lower.get(r.lower())
        if j is not None:
            found[i] = (j, "romanised")

    unspaced = sum(s.startswith(WORD) for s in target.symbols) < UNSPACED * len(target.symbols)
    names = {}
    for j, s in enumerate(source.symbols):
        if _is_name(s) and _consonants(skeleton(s)) >= NAME_CONSONANTS:
            names.setdefault(skeleton(s), []).append(j)
    candidates = [
        i
        for i, r in roman.items()
        if i not in found
        and (unspaced or target.symbols[i].startswith(WORD))
        and (_caseless(target.symbols[i]) or _is_name(target.symbols[i]))
        and skeleton(r) in names
    ]
    family = {}  # a name's forms (Израиль, Израиля, Израилю) together occur as often as the English name
    for i in candidates:
        family[skeleton(roman[i])] = family.get(skeleton(roman[i]), 0.0) + tf[i]
    for i in candidates:
        r = roman[i]
        f = family[skeleton(r)] if NAME_FAMILY else tf[i]
        best = None
        for j in names[skeleton(r)]:
            sim = similarity(r, source.symbols[j])
            if (
                _ratio(f, sf[j]) <= NAME_RATIO
                and sim >= NAME_SIMILARITY
                and (best is None or sim > best[0])
            ):
                best = (sim, j)
        if best:
            found[i] = (best[1], "name")
    return found


def _special(d, i) -> bool:
    return i < getattr(d, "nspecial", 0)


def match(target, source, lang: str | None = None, romanised: bool = True) -> dict:
    """{target position: source position}: :func:`match_tiers` without the tiers."""
    return {i: j for i, (j, _) in match_tiers(target, source, lang, romanised).items()}
