"""A log line at least once a minute, whatever ``--log-interval`` says.

At real size an update takes seconds (12 s for xlm-roberta-base on 2 CPU cores), so fairseq's
``--log-interval 25`` is silent for minutes; the recipes' progress lines (examples/bible/progress.py)
read the log. This mixin logs ``progress: num_updates=N`` when HEARTBEAT_SECONDS have passed
since its last line, from the task's ``train_step`` (no host sync, no effect on training).
"""

import logging
import time

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 60.0


class LogsProgress:
    """Task mixin: ``progress: num_updates=N`` in the training log, at most once a HEARTBEAT_SECONDS."""

    _heartbeat = None

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        out = super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        now = time.monotonic()
        if self._heartbeat is None:
            self._heartbeat = now
        elif now - self._heartbeat >= HEARTBEAT_SECONDS:
            self._heartbeat = now
            logger.info("progress: num_updates=%d", update_num + 1)  # this update included
        return out
