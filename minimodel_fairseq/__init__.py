"""minimodel_fairseq: mini-model adaptation (Marchisio et al., Findings of ACL 2023) for fairseq.

Use as ``fairseq-train --user-dir minimodel_fairseq --task minijoint_mlm ...``.
Importing the package applies the torch compatibility fixes (``compat``) and
registers the plugin's models, criterions and tasks with fairseq.
"""

import os

from . import (  # noqa: F401  (register with fairseq)
    compat,  # noqa: F401  (first: fixes checkpoint loading before anything loads one)
    criterions,
    encoders,
    models,
    tasks,
)

USER_DIR = os.path.dirname(os.path.abspath(__file__))
"""The path to give ``--user-dir`` from any working directory."""
