#!/usr/bin/env bash
# (b) Data from your own files: the source task with the imported model's own tokenizer and
# dictionary (python -m minimodel_fairseq.data.own task --hf-tokenizer), the target text with a
# sentencepiece vocabulary of its own (python -m minimodel_fairseq.data.bible --raw-text, VOCAB
# pieces), and, when given, the target test set with the target's tokenizer and the SOURCE task's
# labels (... own target-test). Each part is skipped when it is done from the same files.
#   examples/own/prepare.sh NAME --lang LANG --target-text FILE --train FILE --valid FILE [--test FILE] [--target-test FILE]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"
[ -n "${lang:-}" ] || own_usage "$own_script" "give the options"
need_import
# shellcheck disable=SC2086  # PREPARE_FLAGS is a list of flags
run_own task --train "$train" --valid "$valid" ${test:+--test "$test"} --out "$DATA/$SRC" --hf-tokenizer "$IMPORT" $PREPARE_FLAGS
if [ -L "$DATA/$lang" ]; then echo "$DATA/$lang is a link (an examples/hf run?): use another OWN_DATA or run name" >&2; exit 2; fi
raw_text=($LAUNCH .venv/bin/python -m minimodel_fairseq.data.bible --raw-text "$target_text" --langs "$lang" --out "$DATA" --vocab-size "$VOCAB")
if [ "$DRY_RUN" = 1 ]; then print_command "${raw_text[@]}"; else "${raw_text[@]}"; fi
if [ -n "$target_test" ]; then
  run_own target-test --test "$target_test" --out "$DATA/$lang" --source "$DATA/$SRC"
fi
[ "$DRY_RUN" = 1 ] || say "data: $DATA/$SRC (task, imported tokenizer), $DATA/$lang (target text$([ -z "$target_test" ] || echo ", target test set"))"
