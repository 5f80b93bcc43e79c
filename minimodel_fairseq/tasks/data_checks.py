"""One clear error for a data directory that a task cannot be set up from.

fairseq's own tasks open ``DATA/dict.txt`` (masked LM) or ``DATA/input0/dict.txt``
and ``DATA/label/dict.txt`` (sentence prediction) and fail with a bare
FileNotFoundError deep in a traceback. Every task of the plugin checks first
and names the file and the fix.
"""

import os

from fairseq import utils


class CheckedDataDir:
    """Task mixin: ``setup_task`` first checks that ``cfg.data`` holds ``required_files``."""

    required_files = ("dict.txt",)

    @classmethod
    def required_data_files(cls, cfg):
        return cls.required_files

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        paths = utils.split_paths(cfg.data) if getattr(cfg, "data", None) else []
        name = getattr(cfg, "_name", None) or cls.__name__
        fix = (
            "give the --destdir of fairseq-preprocess (examples/bible/prepare.sh writes "
            "DATA/<lang>/mlm for masked LM and DATA/<lang>/cls for classification)"
        )
        if not paths:
            raise ValueError(f"--task {name} needs a data directory as the first argument: {fix}")
        if not os.path.isdir(paths[0]):
            raise FileNotFoundError(f"data directory {paths[0]} does not exist: {fix}")
        for rel in cls.required_data_files(cfg):
            if not os.path.isfile(os.path.join(paths[0], rel)):
                raise FileNotFoundError(
                    f"{os.path.join(paths[0], rel)} is missing: {paths[0]} is not a binarized data "
                    f"directory for --task {name}; {fix}"
                )
        return super().setup_task(cfg, **kwargs)
