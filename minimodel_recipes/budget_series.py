"""The series of benchmarks/budget.py's reports (budget.json): the step-2 inits, the trained methods,
the controls and their labels, for budget.py, which writes them, and forgetting_report.py, which
reads them."""

# the step-2 inits of the trained methods: name -> EMBED_INIT (None: the environment's, anchored)
INITS = {"anchored": None, "random": "random"}
TRAINED = ("full", "minijoint")
CONTROLS = ("random", "copy_only")  # run once per budget, in the anchored RUNS


def series():
    """(init, method) of every accuracy series, trained methods first, then the controls."""
    return [(i, m) for i in INITS for m in TRAINED] + [("anchored", c) for c in CONTROLS]


def label(init, method):
    """The series' name in the reports: 'full (random init)', 'copy_only (control)'."""
    return f"{method} ({init} init)" if method in TRAINED else f"{method} (control)"
