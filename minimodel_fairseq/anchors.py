"""Which target-language symbols start step 2 from a source-language embedding row.

``--embedding-init shared`` copies the rows of symbols spelled exactly as in the
source dictionary: names, numbers, punctuation. Between Latin-script languages
that anchors a few hundred rows (English -> German 341, French 446 of 4001 at a
4k vocabulary), which is what makes step 2 identifiable over a small body
(docs/results.md). Russian shares only punctuation and digits with English (50
rows), and stays unanchored.

``--embedding-init shared_translit`` adds matches through transliteration, for
targets written in Cyrillic:

- every symbol is romanised with one plain table (``море`` -> ``more``,
  ``Давид`` -> ``David``) and matched if the result is a source symbol;
- a word-initial capitalised symbol of 4+ letters (a proper name) is also tried
  with the spelling variants by which Biblical and classical names came into
  English (в: v/b, и: i/j, х: kh/h/ch, ф: f/ph, ...), so ``Иаков`` finds
  ``Jacob`` and ``Вавилон`` ``Babylon``. Variants are kept to names because on
  short common words they mostly find false friends (``вас`` 'you' -> ``was``).
  The plain table finds some as well (``год`` 'year' -> ``god``).

Exact matches win over transliterated ones; a source row may anchor several
target symbols. Symbols without Cyrillic letters are only matched exactly, so
for Latin-script targets ``shared_translit`` equals ``shared``.
"""
import itertools

# one plain romanisation (close to the scholarly system, without diacritics)
PLAIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Ukrainian, Belarusian, Serbian, Macedonian, Bulgarian letters
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj",
    "њ": "nj", "ћ": "c", "џ": "dz", "ѓ": "gj", "ќ": "kj", "ѕ": "dz",
}
# how the same letters appear in English spellings of Biblical and classical names
NAME_VARIANTS = {
    "в": ["b", "w"], "г": ["h"], "ж": ["j"], "з": ["s"], "и": ["j", "y"], "й": ["y", "j"],
    "к": ["c"], "с": ["c"], "т": ["th"], "ф": ["ph"], "х": ["h", "ch"], "ц": ["c", "z"],
    "ю": ["ju", "u"], "я": ["ja"],
}
MAX_VARIANTS = 256  # spellings tried per name (the product of the letters' choices)


def _case(ch, latin):
    return latin.capitalize() if ch != ch.lower() else latin


def romanise(symbol):
    """The plain romanisation of a symbol; characters other than Cyrillic letters stay."""
    return "".join(_case(ch, PLAIN[ch.lower()]) if ch.lower() in PLAIN else ch for ch in symbol)


def has_cyrillic(symbol):
    return any(ch.lower() in PLAIN for ch in symbol)


def _is_name(symbol):
    word = symbol.lstrip("\u2581")
    return symbol.startswith("\u2581") and len(word) >= 4 and word[0].isupper() and word.isalpha()


def name_spellings(symbol):
    """Romanisations of a proper name: the plain one first, then spelling variants."""
    choices = []
    for ch in symbol:
        lo = ch.lower()
        if lo in PLAIN:
            options = [PLAIN[lo]] + [v for v in NAME_VARIANTS.get(lo, []) if v != PLAIN[lo]]
            choices.append([_case(ch, o) for o in options])
        else:
            choices.append([ch])
    return ("".join(c) for c in itertools.islice(itertools.product(*choices), MAX_VARIANTS))


def match(target_symbols, source_index, transliterate=False):
    """{target position: source position} for the target symbols that get a source row.

    ``source_index`` maps a source symbol to its row (a fairseq ``Dictionary.indices``).
    """
    found = {}
    for i, sym in enumerate(target_symbols):
        j = source_index.get(sym)
        if j is None and transliterate and has_cyrillic(sym):
            spellings = name_spellings(sym) if _is_name(sym) else [romanise(sym)]
            j = next((source_index[s] for s in spellings if s in source_index), None)
        if j is not None:
            found[i] = j
    return found
