"""``--arch``: optional where a checkpoint gives the architecture, and a clear message where it is missing.

Steps 2 and 3 build their model from ``--body-checkpoint``: every architecture field
is taken from the body (``surgery.Body.configure``), so ``--arch`` would only repeat
what fairseq insists on. fairseq asks for it before any task code runs, in two places:

- ``fairseq-train``: ``options.parse_args_and_arch`` looks ``args.arch`` up in
  ``ARCH_MODEL_REGISTRY`` to add the model's options, and raises a bare
  ``RuntimeError()`` when it is ``None`` (no ``--arch``). It imports ``--user-dir``
  just before, and the registries are the only hook there: the plugin registers the
  architecture ``None``. Its options are RoBERTa's (plus the plugin models' own, so
  that they still parse), and its config function, which fairseq runs once the
  options are parsed, sets ``--arch roberta`` for a task that takes the architecture
  from a checkpoint and otherwise raises a message that says what to pass.
- ``fairseq-hydra-train``: without a ``model:`` group, ``cfg.model`` is None or
  missing (``???``) and fairseq fails when it reads it. :class:`DefaultArch`'s
  ``setup_task`` (which runs first) puts ``model: {_name: roberta}`` into the run's
  config (the one fairseq saves in every checkpoint) for those tasks, and gives the
  message for the others.

Each task says what it needs: ``takes_arch_from_checkpoint(cfg)`` and ``arch_hint``.

Registering ``None`` is one of the plugin's patches of fairseq (the table in ``compat.py``):
it logs one DEBUG line, ``compat: patched ...``, when it is applied (``compat.log_patch``).
"""

from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY
from fairseq.models.roberta.model import RobertaModel
from fairseq.tasks import TASK_REGISTRY
from omegaconf import OmegaConf, open_dict

from ..compat import log_patch
from ..models.minijoint_roberta import MiniJointRobertaModel
from ..models.minipost_roberta import MiniPostRobertaModel

DEFAULT_ARCH = "roberta"


def missing_arch_message(task_name, task_cls=None) -> str:
    hint = getattr(task_cls, "arch_hint", None) or "a model architecture, e.g. --arch roberta_base"
    return f"--task {task_name} needs --arch (in a hydra config: model._name): pass {hint}"


def _takes_arch_from_checkpoint(task_cls, cfg) -> bool:
    test = getattr(task_cls, "takes_arch_from_checkpoint", None)
    return bool(test and test(cfg))


class DefaultArch:
    """Task mixin: the hydra half (see the module's docstring); tasks set the two attributes below."""

    arch_hint = None  # what to pass when --arch is missing (None: a generic hint)

    @classmethod
    def takes_arch_from_checkpoint(cls, cfg) -> bool:
        return False

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        # fairseq's tasks.setup_task keeps the run's config as the task config's parent
        root = cfg._get_parent() if OmegaConf.is_config(cfg) else None
        no_model = (
            root is not None
            and "model" in root.keys()
            and (OmegaConf.is_missing(root, "model") or root.model is None)
        )  # '???' (a config's schema) or null
        if no_model:
            if not cls.takes_arch_from_checkpoint(cfg):
                raise ValueError(missing_arch_message(cfg._name, cls))
            with open_dict(root):
                root.model = {"_name": DEFAULT_ARCH}
        return super().setup_task(cfg, **kwargs)


class _NoArch:
    """ARCH_MODEL_REGISTRY[None]: the options fairseq-train parses when --arch is missing."""

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        MiniJointRobertaModel.add_own_args(parser)
        MiniPostRobertaModel.add_own_args(parser)


def _no_arch(args):
    """ARCH_CONFIG_REGISTRY[None]: --arch roberta where a checkpoint gives the architecture, else a message."""
    name = getattr(args, "task", None)
    task_cls = TASK_REGISTRY.get(name)
    if not _takes_arch_from_checkpoint(task_cls, args):
        raise ValueError(missing_arch_message(name, task_cls))
    args.arch = DEFAULT_ARCH
    ARCH_CONFIG_REGISTRY[DEFAULT_ARCH](args)


def register_no_arch() -> None:
    """Register the architecture ``None`` (idempotent; an entry already there is left as it is)."""
    if None in ARCH_MODEL_REGISTRY and None in ARCH_CONFIG_REGISTRY:
        return
    ARCH_MODEL_REGISTRY.setdefault(None, _NoArch)
    ARCH_CONFIG_REGISTRY.setdefault(None, _no_arch)
    log_patch(
        "fairseq.models.ARCH_MODEL_REGISTRY[None], fairseq.models.ARCH_CONFIG_REGISTRY[None]",
        "--arch optional where a checkpoint gives it, a clear message where it is missing",
    )


register_no_arch()
