#!/usr/bin/env bash
# Prepare aligned Bible text as fairseq data: DATA/<lang>/{mlm,cls/input0,cls/label,...}.
#   LANGS=en,de,fr,ru DATA=data/bible VOCAB=4000 examples/bible/prepare.sh [--workers 4] [--max-verses N]
# Extra arguments go to `python -m minimodel_fairseq.data.bible` (see docs/data.md), e.g.
# --hf-tokenizer DIR: encode with an imported model's own tokenizer (minimodel import-hf output).
# Languages whose DATA/<lang>/DONE exists are skipped, so re-running is cheap.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
scripts/setup.sh
# shellcheck disable=SC2086  # LAUNCH (settings.py) is a command prefix: split into words
${LAUNCH:-} .venv/bin/python -m minimodel_fairseq.data.bible \
  --langs "${LANGS:-en,de,fr,ru}" --out "${DATA:-data/bible}" --vocab-size "${VOCAB:-4000}" "$@"
