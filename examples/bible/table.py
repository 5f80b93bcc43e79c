"""Summarise results.tsv (lang, method, seed, accuracy, n, majority, step-2 seconds) as Markdown."""
import statistics
import sys
from collections import defaultdict

ORDER = ["in-language (minijoint)", "in-language (roberta)", "full", "minijoint", "minipost",
         "full_roberta", "random", "random_roberta", "copy_only"]


def cell(values, scale=100.0, digits=1):
    if not values:
        return ""
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * (max(values) - min(values)) / 2:.{digits}f}"


def _ratio(mean, a, b):
    return f"{mean[a] / mean[b]:.2f}x" if mean.get(a) and mean.get(b) else ""  # 0 s: too short to time


def main(path):
    acc, secs = defaultdict(list), defaultdict(list)
    majority, n = {}, {}
    with open(path) as f:
        for line in f:
            lang, method, _seed, a, count, maj, s = line.rstrip("\n").split("\t")
            acc[lang, method].append(float(a))
            if s != "NA":
                secs[lang, method].append(float(s))
            majority[lang], n[lang] = float(maj), int(count)
    methods = [m for m in ORDER if any(k[1] == m for k in acc)]
    langs = list(dict.fromkeys(k[0] for k in acc))
    print("| language | n | majority | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 3) + "|")
    for lang in langs:
        print(f"| {lang} | {n[lang]} | {100 * majority[lang]:.1f} | "
              + " | ".join(cell(acc.get((lang, m), [])) for m in methods) + " |")
    print("\nZero-shot accuracy (%) on the test chapters, mean ± half the range over seeds; "
          "majority = always the most frequent training genre; random* = untrained target embeddings (random init); copy_only = untrained, only the rows copied by the shared init.")
    timed = [m for m in ("full", "minijoint", "minipost", "full_roberta") if any(k[1] == m for k in secs)]
    if timed:
        print("\n| language | " + " | ".join(f"step-2 s {m}" for m in timed) + " | full / minijoint | full / minipost |")
        print("|---" * (len(timed) + 3) + "|")
        for lang in langs:
            mean = {m: statistics.mean(secs[lang, m]) for m in timed if secs.get((lang, m))}
            if mean:
                print(f"| {lang} | " + " | ".join(f"{mean[m]:.0f}" if m in mean else "" for m in timed)
                      + f" | {_ratio(mean, 'full', 'minijoint')} | {_ratio(mean, 'full', 'minipost')} |")
        print("\nStep-2 training wall time (seconds, fairseq's own 'done training in'), mean over seeds.")


if __name__ == "__main__":
    main(sys.argv[1])
