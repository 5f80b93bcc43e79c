"""tasks/heartbeat.py: a log line once a HEARTBEAT_SECONDS, whatever --log-interval says."""

import logging

from minimodel_fairseq.tasks import heartbeat


class _Base:
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        return ("loss", 1, {"update": update_num})


class _Task(heartbeat.LogsProgress, _Base):
    pass


def test_heartbeat_once_a_minute_and_training_untouched(monkeypatch, caplog):
    clock = iter([0.0, 30.0, 61.0, 62.0, 125.0])
    monkeypatch.setattr(heartbeat.time, "monotonic", lambda: next(clock))
    task = _Task()
    with caplog.at_level(logging.INFO, logger=heartbeat.__name__):
        outs = [task.train_step(None, None, None, None, u) for u in range(5)]
    assert outs == [
        ("loss", 1, {"update": u}) for u in range(5)
    ]  # what the step returns is the base's
    assert [r.getMessage() for r in caplog.records] == [
        "progress: num_updates=3",
        "progress: num_updates=5",
    ]
