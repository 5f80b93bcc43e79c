"""fairseq-train, plus a dump of each rank's model after every update (for tests).

Usage: DUMP_DIR=DIR python train_and_dump.py <fairseq-train arguments>
(or under ``torchrun``). After each update, rank R writes its raw model's
state dict to DIR/rankR.pt, so a test can compare what every rank holds.
"""

import os
import sys

import torch
from fairseq import trainer as fairseq_trainer
from fairseq_cli import train

_train_step = fairseq_trainer.Trainer.train_step


def train_step(self, samples, raise_oom=False):
    out = _train_step(self, samples, raise_oom)
    rank = int(os.environ.get("RANK", 0))
    state = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
    torch.save(
        {"num_updates": self.get_num_updates(), "model": state},
        os.path.join(os.environ["DUMP_DIR"], f"rank{rank}.pt"),
    )
    return out


fairseq_trainer.Trainer.train_step = train_step

if __name__ == "__main__":
    sys.exit(train.cli_main())
