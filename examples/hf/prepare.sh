#!/usr/bin/env bash
# (b) Data: the source language tokenized with the imported model's own tokenizer (ids = its
# dictionary's, no sentencepiece model trained), each target language by the Bible recipe
# (its own sentencepiece vocabulary, prepared once in TARGET_DATA and linked into the run's DATA).
#   examples/hf/prepare.sh NAME [LANG ...]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"; shift
need_import
[ "$DRY_RUN" != 1 ] || exit 0
# shellcheck disable=SC2086  # PREPARE_FLAGS is a list of flags
LANGS="$SRC" bash examples/bible/prepare.sh --hf-tokenizer "$IMPORT" $PREPARE_FLAGS
for lang in "$@"; do
  [ "$lang" != "$SRC" ] || { echo "target language $lang is the source language" >&2; exit 2; }
  DATA="$TARGET_DATA" LANGS="$lang" bash examples/bible/prepare.sh
  if [ ! -e "$DATA/$lang" ] || [ -L "$DATA/$lang" ]; then ln -sfn "$(realpath "$TARGET_DATA/$lang")" "$DATA/$lang"; fi
done
say "data: $DATA/$SRC (imported tokenizer)${*:+, targets $* linked from $TARGET_DATA}"
