"""The recipes' Python: settings and method table, results tables, paired statistics, progress lines,
label-free collection and step-2 cost, shared by examples/ (the shell recipes), benchmarks/ and tests/.

Standard library (and numpy) at import: the shell recipes call ``python -m minimodel_recipes.settings``
several times per step, so nothing here imports torch or fairseq until a function needs them.
"""
