"""Tasks registered with fairseq, one per step of the method (one module each).

- ``minijoint_mlm``: step 1, MiniJoint pretraining (dual-head masked LM).
"""
from . import minijoint_mlm  # noqa: F401
