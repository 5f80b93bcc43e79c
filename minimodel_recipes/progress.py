"""Follow a fairseq-train log and print where the run is, with an estimate of the time left.

    progress.py --label "step 1/4 pretraining MiniJoint" --total 2000 [--every 60] LOG

common.sh's fairseq_train starts it next to each training run (the full log goes to LOG):

    step 1/4 pretraining MiniJoint: update 500/2000 (25 %), loss 9.61, 5m12s, about 15m left

A line after the first logged update (so the rate shows early), then one every --every seconds
whether or not the log moved (the plugin's tasks log a heartbeat at least once a minute).
The estimate is the rate between the first and the latest logged update (start-up excluded).
It reads the log once a second and never touches the training process; it ends when the log
says training is done, when it is killed, or when the process that started it is gone.
"""

import argparse
import os
import re
import sys
import time

UPDATE = re.compile(r"\bnum_updates[= ](\d+)")
STOPPED = re.compile(
    r"Stopping training due to num_updates: (\d+)"
)  # the last update, before the final validation
VALIDATING, VALIDATED = "begin validation on", "| valid |"
LOSS = re.compile(r"\bloss[= ]([0-9.]+)")
DONE = "done training in"


def duration(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def left(seconds):
    if seconds < 120:
        return f"about {round(seconds)}s left"
    return (
        f"about {round(seconds / 60)}m left"
        if seconds < 3600
        else f"about {duration(seconds)} left"
    )


class Follower:
    """Parses log lines; line() gives the progress line for the latest update seen."""

    def __init__(self, label, total, start):
        self.label, self.total, self.start = label, total, start
        self.first = None  # (time, update) of the first update logged
        self.latest = None  # (time, update, loss)
        self.validating = (
            False  # between fairseq's "begin validation" and its valid line (minutes at base size)
        )

    def feed(self, text, now):
        """Read log lines; True when the log says training is done."""
        done = False
        for line in text.splitlines():
            done |= DONE in line
            if VALIDATING in line or VALIDATED in line:
                self.validating = VALIDATING in line
            stopped = STOPPED.search(line)
            if stopped and self.latest:
                self.latest = (now, int(stopped.group(1)), self.latest[2])
                continue
            # fairseq's train lines, and the plugin's heartbeat (tasks/heartbeat.py: at least once a minute)
            if (
                "train_inner" not in line
                and "| train |" not in line
                and "progress: num_updates=" not in line
            ):
                continue
            m = UPDATE.search(line)
            if not m:
                continue
            u, loss = int(m.group(1)), LOSS.search(line)
            if loss is None and self.latest:  # a heartbeat: the loss of the last train line stays
                loss = self.latest[2]
            else:
                loss = float(loss.group(1)) if loss else None
            self.first = self.first or (now, u)
            self.latest = (now, u, loss)
        return done

    def line(self, at=None):
        """The progress line; ``at``: the time now, when no update was logged since the latest."""
        if self.latest is None:
            return f"{self.label}: starting, {duration((at or time.time()) - self.start)}"
        now, u, loss = self.latest
        t0, u0 = self.first
        if u > u0:
            rate = (u - u0) / (now - t0) if now > t0 else None
        else:  # the first logged update: start-up included, a rough first estimate
            rate = u / (now - self.start) if now - self.start >= 1 and u else None
        parts = [f"update {u}/{self.total} ({100 * u // max(self.total, 1)} %)"]
        if loss is not None:
            parts.append(f"loss {loss:.2f}")
        parts.append(duration((at or now) - self.start))
        if rate and u < self.total:
            parts.append(left((self.total - u) / rate - ((at or now) - now)))
        if self.validating:
            parts.append("validating")
        if at is not None and at - now >= 1:
            parts.append(f"last logged {duration(at - now)} ago")
        return f"{self.label}: " + ", ".join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("log", help="the fairseq-train log that the run writes")
    p.add_argument(
        "--label", required=True, help="what the run is, e.g. 'step 2/4 de minijoint seed 1'"
    )
    p.add_argument("--total", type=int, required=True, help="the run's --max-update")
    p.add_argument(
        "--every", type=float, default=60, help="seconds between progress lines (default 60)"
    )
    p.add_argument(
        "--poll", type=float, default=1.0, help="seconds between reads of the log (default 1)"
    )
    args = p.parse_args(argv)

    parent, start = os.getppid(), time.time()
    follower, printed, last, pos = Follower(args.label, args.total, start), False, 0.0, 0
    buffer = ""
    while os.getppid() == parent:  # the recipe that started us is gone (e.g. Ctrl-C): stop
        try:
            with open(args.log, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
        except FileNotFoundError:
            chunk = b""
        buffer += chunk.decode("utf-8", "replace")
        text, _, buffer = buffer.rpartition("\n")
        now = time.time()
        done = follower.feed(text, now)
        fresh = follower.latest is not None and follower.latest[0] == now
        if fresh and (not printed or now - last >= args.every):
            print(follower.line(), flush=True)
            printed, last = True, now
        elif (
            args.every > 0 and now - max(last, start) >= args.every
        ):  # nothing logged: still a line
            print(follower.line(at=now), flush=True)
            printed, last = True, now
        if done:
            return 0
        time.sleep(args.poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())
