"""Anchor quality: are the rows the anchored init copies correct translations?

    .venv/bin/python benchmarks/anchor_quality.py [--data data/bible] [--src en] [--langs ru ar hi zh]
        [--out docs/results/anchors.md [--report-only]] [--show 20]
    .venv/bin/python benchmarks/anchor_quality.py --guards [--langs ...]   # what each guard keeps out

``--embedding-init shared`` / ``shared_translit`` anchor target symbols to source
symbols from the two vocabularies alone (minimodel_fairseq/anchors.py). This tool
measures them against the one thing the init never sees: the verse alignment of
the Bible. A correct pair (target symbol, English symbol) occurs in the same
verses far more often than chance. Each pair is scored by the Dice coefficient
over the verses that contain each symbol (the sentencepiece-encoded first
translation, ``DATA/<lang>/spm/cls.*.input0.spm``, aligned with the source's by
``raw/cls.*.ref``: book, chapter, verse), and counts as **supported** when its
Dice is above that of the target symbol with each of the 19 source symbols
nearest to the English one in verse frequency: a permutation test at p < 0.05
(a random pair is supported 5 % of the time at most, whatever the two symbols'
frequencies; the ``chance`` column measures it on random pairs). Very frequent
symbols (punctuation, which co-occurs with everything) are rarely supported by
this test even when correct, so compare shares between methods, not with 100 %.

Per language it reports the anchored rows (special symbols excluded) and the
share supported by the alignment, for ``shared`` (exact spelling), ``old`` (the
hand-written Cyrillic table with its name-spelling variants, the previous
``shared_translit``, kept here only to measure against) and ``new`` (uroman,
the current ``shared_translit``), and the new method's rows per tier.
"""

import argparse
import contextlib
import itertools
import json
import random
import sys
import time
from pathlib import Path

from minimodel_fairseq import anchors
from minimodel_recipes import bench

ROOT = Path(__file__).resolve().parents[1]

SPLITS = ("train", "valid", "test")
NEIGHBOURS = 19  # frequency-matched source symbols per test: p < 1 / (19 + 1)


# --------------------------------------------------------------------------- the alignment


def read_verses(lang_dir):
    """{(book, chapter, verse): sentencepiece line} of a prepared language's first translation."""
    lang_dir = Path(lang_dir)
    verses = {}
    for split in SPLITS:
        ref = lang_dir / "raw" / f"cls.{split}.ref"
        spm = lang_dir / "spm" / f"cls.{split}.input0.spm"
        if not ref.is_file() or not spm.is_file():
            raise SystemExit(
                f"{lang_dir} has no {ref.name} / {spm.name}: prepare it from the Bible database "
                f"(examples/bible/prepare.sh); --raw-text corpora have no verse alignment"
            )
        refs = ref.read_text(encoding="utf-8").splitlines()
        lines = spm.read_text(encoding="utf-8").splitlines()
        if len(refs) != len(lines):
            raise SystemExit(f"{ref} and {spm} differ in length: prepare {lang_dir} again")
        verses.update((tuple(r.split()[1:]), line) for r, line in zip(refs, lines))
    return verses


class Alignment:
    """Verse sets of every symbol of two verse-aligned languages, as bitsets (Python ints)."""

    def __init__(self, tgt_dir, src_dir):
        tgt, src = read_verses(tgt_dir), read_verses(src_dir)
        self.tgt, self.src = {}, {}
        self.verses = 0
        for ref, line in tgt.items():
            if ref not in src:
                continue
            bit = 1 << self.verses
            self.verses += 1
            for bits, text in ((self.tgt, line), (self.src, src[ref])):
                for sym in set(text.split()):
                    bits[sym] = bits.get(sym, 0) | bit
        # source symbols by verse frequency, for the frequency-matched null
        self.by_freq = sorted(self.src, key=lambda s: (self.src[s].bit_count(), s))
        self.rank = {s: i for i, s in enumerate(self.by_freq)}

    def dice(self, t, s):
        a, b = self.tgt.get(t, 0), self.src.get(s, 0)
        n = a.bit_count() + b.bit_count()
        return 2 * (a & b).bit_count() / n if n else 0.0

    def supported(self, t, s):
        """True / False, or None when either symbol never occurs in the aligned verses."""
        if t not in self.tgt or s not in self.rank:
            return None
        i = self.rank[s]
        lo = max(0, min(i - NEIGHBOURS // 2, len(self.by_freq) - NEIGHBOURS - 1))
        others = [x for x in self.by_freq[lo : lo + NEIGHBOURS + 1] if x != s][:NEIGHBOURS]
        d = self.dice(t, s)
        return all(d > self.dice(t, x) for x in others)


# --------------------------------------------------------------------------- the previous method

# The hand-written romanisation of the previous ``shared_translit`` (Cyrillic only): one plain
# table, and for capitalised words of 4+ letters the spelling variants of Biblical names.
_OLD_PLAIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяєіїґўђјљњћџѓќѕ",
        (
            "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya ye i yi g u dj j lj nj c dz "
            "gj kj dz"
        ).split(),
    )
)
_OLD_PLAIN = {k: v.replace("_", "") for k, v in _OLD_PLAIN.items()}
_OLD_VARIANTS = {
    "в": ["b", "w"],
    "г": ["h"],
    "ж": ["j"],
    "з": ["s"],
    "и": ["j", "y"],
    "й": ["y", "j"],
    "к": ["c"],
    "с": ["c"],
    "т": ["th"],
    "ф": ["ph"],
    "х": ["h", "ch"],
    "ц": ["c", "z"],
    "ю": ["ju", "u"],
    "я": ["ja"],
}


def _old_case(ch, latin):
    return latin.capitalize() if ch != ch.lower() else latin


def old_match(target_symbols, source_index):
    """{target position: source position} of the previous shared_translit."""
    found = {}
    for i, sym in enumerate(target_symbols):
        j = source_index.get(sym)
        if j is None and any(ch.lower() in _OLD_PLAIN for ch in sym):
            word = sym.lstrip(anchors.WORD)
            if (
                sym.startswith(anchors.WORD)
                and len(word) >= 4
                and word[0].isupper()
                and word.isalpha()
            ):
                choices = [
                    [
                        _old_case(ch, o)
                        for o in dict.fromkeys(
                            [_OLD_PLAIN[ch.lower()]] + _OLD_VARIANTS.get(ch.lower(), [])
                        )
                    ]
                    if ch.lower() in _OLD_PLAIN
                    else [ch]
                    for ch in sym
                ]
                spellings = ("".join(c) for c in itertools.islice(itertools.product(*choices), 256))
            else:
                spellings = [
                    "".join(
                        _old_case(ch, _OLD_PLAIN[ch.lower()]) if ch.lower() in _OLD_PLAIN else ch
                        for ch in sym
                    )
                ]
            j = next((source_index[s] for s in spellings if s in source_index), None)
        if j is not None:
            found[i] = j
    return found


# --------------------------------------------------------------------------- the report


def measure(data, lang, src="en", show=0, seed=1):
    from fairseq.data import Dictionary

    tgt_dict = Dictionary.load(str(Path(data) / lang / "mlm" / "dict.txt"))
    src_dict = Dictionary.load(str(Path(data) / src / "mlm" / "dict.txt"))
    start = time.time()
    new = anchors.match_tiers(tgt_dict, src_dict, lang)
    seconds = time.time() - start
    methods = {
        "shared": anchors.match(tgt_dict, src_dict, lang, romanised=False),
        "old": old_match(tgt_dict.symbols, src_dict.indices),
        "new": {i: j for i, (j, _) in new.items()},
    }
    align = Alignment(Path(data) / lang, Path(data) / src)
    special = tgt_dict.nspecial
    tokens = sum(tgt_dict.count[special:]) or 1
    row = {"lang": lang, "verses": align.verses, "match_seconds": round(seconds, 2)}
    for name, pairs in methods.items():
        pairs = {i: j for i, j in pairs.items() if i >= special}
        verdicts = [
            align.supported(tgt_dict.symbols[i], src_dict.symbols[j]) for i, j in pairs.items()
        ]
        scored = [v for v in verdicts if v is not None]
        row[name] = {
            "rows": len(pairs),
            "scored": len(scored),
            "supported": sum(scored),
            "coverage": round(sum(tgt_dict.count[i] for i in pairs) / tokens, 4),
        }
    for tier in anchors.TIERS:
        pairs = [(i, j) for i, (j, t) in new.items() if t == tier and i >= special]
        verdicts = [
            v
            for v in (align.supported(tgt_dict.symbols[i], src_dict.symbols[j]) for i, j in pairs)
            if v is not None
        ]
        row[tier] = {"rows": len(pairs), "scored": len(verdicts), "supported": sum(verdicts)}
        if show:  # printed only, never written: vocabularies of copyrighted translations stay local
            row.setdefault("examples", {})[tier] = [
                f"{tgt_dict.symbols[i]} {src_dict.symbols[j]} "
                f"{'+' if align.supported(tgt_dict.symbols[i], src_dict.symbols[j]) else '-'}"
                for i, j in sorted(pairs, key=lambda p: -tgt_dict.count[p[0]])[:show]
            ]
    # chance: the new method's target symbols paired with random source symbols
    rng = random.Random(seed)
    sources = [s for s in src_dict.symbols[src_dict.nspecial :] if s in align.rank]
    verdicts = [
        align.supported(tgt_dict.symbols[i], rng.choice(sources))
        for i in methods["new"]
        if i >= special
    ]
    scored = [v for v in verdicts if v is not None]
    row["chance"] = {"rows": len(scored), "scored": len(scored), "supported": sum(scored)}
    return row


# --------------------------------------------------------------------------- the guards

# Each guard of anchors.py keeps out a group of pairs; a group is what the new method anchors
# with the guard relaxed, beyond what it anchors with it (for NAME_FAMILY: the name pairs either way).
GUARDS = {
    "names with a 2-consonant skeleton": {"NAME_CONSONANTS": 2},
    "names, frequencies 2-4x apart": {"NAME_RATIO": 4.0},
    "symbols with Han ideographs or hiragana": {"_phonetic": lambda sym: True},
}


@contextlib.contextmanager
def relaxed(**settings):
    """anchors.py with some module settings changed, restored afterwards."""
    saved = {k: getattr(anchors, k) for k in settings}
    for k, v in settings.items():
        setattr(anchors, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(anchors, k, v)


def measure_guards(data, lang, src="en"):
    """{group: [supported, scored]} for each guard's group of pairs, and the name tier summed / per form."""
    from fairseq.data import Dictionary

    tgt_dict = Dictionary.load(str(Path(data) / lang / "mlm" / "dict.txt"))
    src_dict = Dictionary.load(str(Path(data) / src / "mlm" / "dict.txt"))
    align = Alignment(Path(data) / lang, Path(data) / src)

    def score(pairs):
        verdicts = [align.supported(tgt_dict.symbols[i], src_dict.symbols[j]) for i, j in pairs]
        return [sum(v for v in verdicts if v), sum(v is not None for v in verdicts)]

    base = {
        i: jt
        for i, jt in anchors.match_tiers(tgt_dict, src_dict, lang).items()
        if i >= tgt_dict.nspecial
    }
    out = {}
    for group, settings in GUARDS.items():
        with relaxed(**settings):
            more = anchors.match_tiers(tgt_dict, src_dict, lang)
        out[group] = score(
            [(i, j) for i, (j, _) in more.items() if i >= tgt_dict.nspecial and i not in base]
        )
    with relaxed(NAME_FAMILY=False):
        each = anchors.match_tiers(tgt_dict, src_dict, lang)
    out["names, each form alone"] = score([(i, j) for i, (j, t) in each.items() if t == "name"])
    out["names, forms with one skeleton summed (the rule)"] = score(
        [(i, j) for i, (j, t) in base.items() if t == "name"]
    )
    return out


def guards_report(per_lang):
    total = {}
    for groups in per_lang.values():
        for g, (a, n) in groups.items():
            total[g] = [total.get(g, [0, 0])[0] + a, total.get(g, [0, 0])[1] + n]
    lines = [
        "| group of pairs | supported, all languages | " + " | ".join(per_lang) + " |",
        bench.rule(len(per_lang) + 2),
    ]
    for g, (a, n) in total.items():
        lines.append(f"| {g} | {a} of {n} ({100 * a / n:.0f} %) | " if n else f"| {g} | - | ")
        lines[-1] += (
            " | ".join(f"{per_lang[lang][g][0]}/{per_lang[lang][g][1]}" for lang in per_lang) + " |"
        )
    return "\n".join(lines) + "\n"


def _share(m):
    return f"{100 * m['supported'] / m['scored']:.0f} %" if m["scored"] else "-"


def _cell(m, coverage=False):
    text = f"{m['rows']} ({m['supported']}, {_share(m)})"
    return text + f", {100 * m['coverage']:.0f} % of text" if coverage and "coverage" in m else text


def report(rows):
    lines = [
        "| language | shared | old | new | new by tier: exact / romanised / name | chance |",
        bench.rule(6),
    ]
    for r in rows:
        tiers = " / ".join(_cell(r[t]) for t in anchors.TIERS)
        lines.append(
            f"| {r['lang']} | {_cell(r['shared'], True)} | {_cell(r['old'], True)} | {_cell(r['new'], True)} "
            f"| {tiers} | "
            f"{_share(r['chance'])} |"
        )
    lines.append("")
    lines.append(
        "Anchored target rows (special symbols excluded), then in brackets how many of the pairs "
        "the verse alignment supports and their share, then the share of the target text's tokens "
        "(dict.txt counts) that the anchored rows cover. Supported: the pair co-occurs in the aligned verses more "
        f"than the target symbol does with any of the {NEIGHBOURS} English symbols nearest in verse "
        "frequency (p < 0.05). shared: exact spelling; old: the hand-written Cyrillic table with "
        "name-spelling variants; new: uroman (the current shared_translit). chance: the same test on "
        "the new method's target symbols paired with random English symbols."
    )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data", default="data/bible", help="prepared data root (examples/bible/prepare.sh)"
    )
    p.add_argument("--src", default="en", help="the source language (the body's)")
    p.add_argument(
        "--langs",
        nargs="+",
        default=["de", "fr", "ru"],
        help="target languages, prepared under --data",
    )
    p.add_argument(
        "--out", help="also write the table to this .md file and every count to the .json beside it"
    )
    p.add_argument(
        "--show",
        type=int,
        default=0,
        help="print this many example pairs per tier (+: supported; "
        "printed only: the vocabularies of copyrighted translations stay local)",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the table from --out's .json, measure nothing",
    )
    p.add_argument(
        "--guards",
        action="store_true",
        help="instead: what each guard of anchors.py keeps out, and how much of it the alignment supports",
    )
    args = p.parse_args(argv)
    if args.guards:
        print(
            guards_report({lang: measure_guards(args.data, lang, args.src) for lang in args.langs})
        )
        return
    rows = []
    if args.report_only:
        if not args.out:
            raise SystemExit("--report-only needs --out (the table is rewritten from its .json)")
        rows = bench.read_json(Path(args.out).with_suffix(".json"))
    for lang in [] if args.report_only else args.langs:
        rows.append(measure(args.data, lang, args.src, args.show))
        print(
            f"{lang}: {json.dumps({k: v for k, v in rows[-1].items() if k in ('shared', 'old', 'new')})}",
            file=sys.stderr,
            flush=True,
        )
        for tier, examples in rows[-1].pop("examples", {}).items():
            print(f"  {tier}: {'  '.join(examples)}", file=sys.stderr)
    table = report(rows)
    print(table)
    if args.out:
        out = Path(args.out)
        bench.write_text(out, table, encoding="utf-8")
        bench.write_json(
            out.with_suffix(".json"), rows, end="\n", encoding="utf-8", ensure_ascii=False
        )


if __name__ == "__main__":
    main()
