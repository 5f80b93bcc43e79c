# Entry points named by the README. Every target sets itself up (scripts/setup.sh
# is idempotent and returns at once when .venv is complete).
.PHONY: setup test demo demo-hf bench clean

setup:
	bash scripts/setup.sh

# one pytest worker per core, a test file per worker (its module fixtures built once): most tests
# wait on single-threaded fairseq-train processes, so two cores run the suite 1.6x faster
test: setup
	.venv/bin/python -m pytest tests -q -n auto --dist loadfile

demo: setup
	bash examples/bible/run_all.sh

# the Hugging Face recipe (docs/hf.md) on the project's own model, exported with export-hf
demo-hf: setup
	bash examples/hf/demo.sh de 1

bench: setup
	.venv/bin/python benchmarks/minijoint_speed.py

clean:
	rm -rf .venv
