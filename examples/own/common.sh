# Shared part of the own-files recipe (sourced with the run's NAME as $1, then the options, not run):
# examples/hf/common.sh (and so every setting of examples/bible/common.sh) with the run in
# OWN_RUNS/NAME (default runs/own) and its data in OWN_DATA/NAME (default data/own):
#   DATA/$SRC/   the source task (python -m minimodel_fairseq.data.own task, the imported tokenizer)
#   DATA/LANG/   the target text (python -m minimodel_fairseq.data.bible --raw-text, its own sentencepiece
#                vocabulary) and, when given, the target test set in DATA/LANG/cls (... own target-test)
# Options (own_options): --lang LANG --target-text FILE --train FILE --valid FILE [--test FILE]
#   [--target-test FILE] [--seed N]; task files are .tsv or .jsonl (docs/hf.md, "Your own files").
own_usage() { echo "usage: $1 --lang LANG --target-text FILE --train FILE --valid FILE [--test FILE] [--target-test FILE] [--seed N]: $2" >&2; exit 2; }
# own_options SCRIPT ARGS...: sets lang target_text train valid test target_test seed (absolute paths:
# called before examples/hf/common.sh changes to the repository root)
own_options() {
  local script="$1"; shift
  lang="" target_text="" train="" valid="" test="" target_test="" seed=1
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || own_usage "$script" "$1 needs a value"
    case "$1" in
      --lang) lang="$2" ;; --target-text) target_text="$2" ;; --train) train="$2" ;; --valid) valid="$2" ;;
      --test) test="$2" ;; --target-test) target_test="$2" ;; --seed) seed="$2" ;;
      *) own_usage "$script" "unknown option $1" ;;
    esac
    shift 2
  done
  [ -n "$lang" ] && [ -n "$target_text" ] && [ -n "$train" ] && [ -n "$valid" ] || own_usage "$script" "give --lang, --target-text, --train and --valid"
  local f
  for f in "$target_text" "$train" "$valid" ${test:+"$test"} ${target_test:+"$target_test"}; do
    [ -f "$f" ] || own_usage "$script" "no file $f"
  done
  target_text=$(realpath "$target_text"); train=$(realpath "$train"); valid=$(realpath "$valid")
  [ -z "$test" ] || test=$(realpath "$test")
  [ -z "$target_test" ] || target_test=$(realpath "$target_test")
}

own_name="${1:-}"; [ $# = 0 ] || shift
own_script="${own_script:-examples/own/$(basename "$0") NAME}"  # for the usage line (run.sh: HF_DIR)
[ $# = 0 ] || own_options "$own_script" "$@"
export HF_RUNS="${OWN_RUNS:-runs/own}" HF_DATA="${OWN_DATA:-data/own}"
source "$(dirname "${BASH_SOURCE[0]}")/../hf/common.sh" "$own_name"
[ -z "${lang:-}" ] || [ "$lang" != "$SRC" ] || own_usage "$own_script" "--lang $lang is the source language (SRC=$SRC)"
OWN=($LAUNCH .venv/bin/python -m minimodel_fairseq.data.own)
# run_own ARGS...: python -m minimodel_fairseq.data.own (DRY_RUN=1: print it instead)
run_own() { if [ "$DRY_RUN" = 1 ]; then print_command "${OWN[@]}" "$@"; else "${OWN[@]}" "$@"; fi; }
