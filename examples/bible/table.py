"""Summarise results.tsv (lang, method, seed, accuracy, n, majority, step-2 seconds) as Markdown."""
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = defaultdict(list)
    majority, n = {}, {}
    with open(path) as f:
        for line in f:
            lang, method, seed, acc, count, maj, secs = line.rstrip("\n").split("\t")
            rows[lang, method].append((float(acc), None if secs == "NA" else float(secs)))
            majority[lang], n[lang] = float(maj), int(count)
    methods = ["in-language", "full", "minijoint", "random"]
    print("| language | n | majority | " + " | ".join(methods) + " | step-2 s (full / minijoint) |")
    print("|---" * (len(methods) + 4) + "|")
    for lang in dict.fromkeys(k[0] for k in rows):
        cells = []
        for m in methods:
            accs = [a for a, _ in rows.get((lang, m), [])]
            if not accs:
                cells.append("")
            elif len(accs) == 1:
                cells.append(f"{100 * accs[0]:.1f}")
            else:  # mean and half the min-max range over seeds
                cells.append(f"{100 * statistics.mean(accs):.1f} ± {50 * (max(accs) - min(accs)):.1f}")
        secs = [statistics.mean([s for _, s in rows.get((lang, m), []) if s is not None] or [float("nan")])
                for m in ("full", "minijoint")]
        wall = "" if lang == "en" and not rows.get((lang, "full")) else f"{secs[0]:.0f} / {secs[1]:.0f}"
        print(f"| {lang} | {n[lang]} | {100 * majority[lang]:.1f} | " + " | ".join(cells) + f" | {wall} |")
    print("\naccuracy in %, mean ± half the range over seeds; n test verses; majority = always the most"
          " frequent train genre; random = untrained target embeddings (control)")


if __name__ == "__main__":
    main(sys.argv[1])
