"""Data preparation for minimodel_fairseq (real-text corpora).

Progress lines go through ``logging`` (logger ``minimodel_fairseq.data``), written as
``[bible] ...`` / ``[own] ...`` to the standard error of the moment (so a caller that
redirects ``sys.stderr`` sees them); ``logging.getLogger("minimodel_fairseq.data").setLevel(logging.WARNING)``
silences them.
"""
import logging
import sys


class _ToStderr(logging.Handler):
    """Each record as one ``[module] message`` line on the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"[{record.name.rsplit('.', 1)[-1]}] {record.getMessage()}", file=sys.stderr, flush=True)
        except Exception:  # logging never raises into the caller
            self.handleError(record)


logger = logging.getLogger(__name__)
if not any(isinstance(h, _ToStderr) for h in logger.handlers):
    logger.addHandler(_ToStderr())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the lines are this tool's output: not repeated by the root's handlers
