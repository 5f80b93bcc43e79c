"""fairseq-preprocess --only-source, run in this process.

A ``python -m fairseq_cli.preprocess`` child spends about 4 s importing torch and fairseq, which
every caller here has imported already; data preparation runs it three times per language.
"""
import io
import logging
from pathlib import Path


class PreprocessError(RuntimeError):
    """fairseq-preprocess failed; the message ends with the tail of its log."""


def fairseq_preprocess(destdir, prefixes: dict, workers: int = 1, srcdict=None) -> Path:
    """Binarize PREFIXES ({split: text file}, splits train/valid/test; train may be absent when
    SRCDICT is given) into DESTDIR as ``fairseq-preprocess --only-source`` does; returns DESTDIR."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from fairseq import options
    from fairseq_cli import preprocess  # its import configures the root logger when it has no handler

    root.handlers[:], root.level = handlers, level
    argv = ["--only-source", "--destdir", str(destdir), "--workers", str(max(1, workers))]
    for split, prefix in prefixes.items():
        argv += [f"--{split}pref", str(prefix)]
    if srcdict is not None:
        argv += ["--srcdict", str(srcdict)]
    log = io.StringIO()
    capture = logging.StreamHandler(log)
    logger = logging.getLogger("fairseq_cli.preprocess")
    before, propagate, own_level = list(logger.handlers), logger.propagate, logger.level
    logger.handlers[:], logger.propagate = [capture], False
    logger.setLevel(logging.INFO)
    try:
        preprocess.main(options.get_preprocessing_parser().parse_args(argv))
    except (Exception, SystemExit) as e:
        tail = "\n".join(log.getvalue().splitlines()[-20:])
        raise PreprocessError(f"fairseq-preprocess failed ({type(e).__name__}: {e}): "
                              f"fairseq-preprocess {' '.join(argv)}\n{tail}") from e
    finally:
        for handler in logger.handlers:  # main() adds a FileHandler for DESTDIR/preprocess.log
            if handler is not capture:
                handler.close()
        logger.handlers[:], logger.propagate = before, propagate
        logger.setLevel(own_level)
    return Path(destdir)
