# Entry points named by the README. Every target sets itself up (scripts/setup.sh
# is idempotent and returns at once when .venv is complete).
.PHONY: setup test test-fast test-rest demo demo-hf bench clean

setup:
	bash scripts/setup.sh

# one pytest worker per core, a test file per worker (its module fixtures built once); each worker
# forks its fairseq-train and minimodel commands from tests/forkserver.py (no import per command).
# test = test-fast (unit tests and single commands, no recipe end to end), then test-rest (the
# recipes and benchmarks in miniature, two-process runs): a broken change fails in the first minutes.
PYTEST = .venv/bin/python -m pytest tests -q -n auto --dist loadfile
FAST = not recipe and not distributed

test: test-fast test-rest

test-fast: setup
	$(PYTEST) -m "$(FAST)"

test-rest: setup
	$(PYTEST) -m "not ($(FAST))"

demo: setup
	bash examples/bible/run_all.sh

# the Hugging Face recipe (docs/hf.md) on the project's own model, exported with export-hf
demo-hf: setup
	bash examples/hf/demo.sh de 1

bench: setup
	.venv/bin/python benchmarks/minijoint_speed.py

clean:
	rm -rf .venv
