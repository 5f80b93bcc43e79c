"""Every checkpoint a task writes records the big model it belongs to.

The fingerprint (``surgery.big_model_of``), and the Hugging Face origin of an imported
model (``surgery.hf_origin``), come from the body the task reads (``surgery.Body``) or,
for MiniPost, the source model. fairseq writes the training
checkpoints itself; the task's checkpoint state (``get_checkpoint_dict``, which
fairseq merges into the checkpoint's ``extra_state`` under the task's class name,
and ``set_checkpoint_dict`` on resume) is the one place a task can add to them, the
same mechanism ``flops.LogsTrainingFlops`` uses for its FLOPs count.
"""

from ..surgery import BIG_MODEL_KEY, DICTIONARY_KEY, HF_ORIGIN_KEY, dictionary_digest, short


class RecordsBigModel:
    """Task mixin: ``big_model`` (a fingerprint, set when the body is read) goes into every checkpoint,
    and ``hf_origin`` (``surgery.hf_origin``: the Hugging Face class it was imported from) beside it,
    and the digest of the task's dictionary (``surgery.dictionary_digest``), which resuming checks.

    Cooperative, like ``flops.LogsTrainingFlops``: each adds its entry to what the
    classes after it in the bases return.
    """

    big_model = hf_origin = None

    def get_checkpoint_dict(self):
        parent = getattr(super(), "get_checkpoint_dict", None)
        state = parent() if parent else {}
        if self.big_model:
            own = state.setdefault(type(self).__name__, {})
            own[BIG_MODEL_KEY] = self.big_model
        if self.hf_origin:
            state.setdefault(type(self).__name__, {})[HF_ORIGIN_KEY] = self.hf_origin
        state.setdefault(type(self).__name__, {})[DICTIONARY_KEY] = dictionary_digest(
            self.source_dictionary
        )
        return state

    def set_checkpoint_dict(self, state):
        parent = getattr(super(), "set_checkpoint_dict", None)
        if parent:
            parent(state)
        self.big_model = state.get(BIG_MODEL_KEY) or self.big_model
        recorded, now = state.get(DICTIONARY_KEY), dictionary_digest(self.source_dictionary)
        if recorded and recorded != now:  # resuming on data binarized with another dictionary
            raise ValueError(
                f"--save-dir holds a run trained with another dictionary (digest {short(recorded)}) than the "
                f"data's, {self.cfg.data} (digest {short(now)}): resume on that run's own data, or give this "
                f"language its own --save-dir"
            )
        self.hf_origin = state.get(HF_ORIGIN_KEY) or self.hf_origin
