"""The few fixes fairseq 0.12.x needs on torch >= 2.6, each with its reason.

Imported first by ``minimodel_fairseq/__init__.py``, hence by ``--user-dir
minimodel_fairseq`` before fairseq loads any checkpoint, and by
``import minimodel_fairseq`` in Python before ``checkpoint_utils`` /
``RobertaModel.from_pretrained`` are used.

Every patch the plugin applies to fairseq when it is imported; the numbered sections below
give the reasons in full. Each logs one DEBUG line from this module's logger when applied,
``compat: patched WHAT (WHY)`` (:func:`log_patch`), where DEBUG was asked for before the
import: ``logging.getLogger("minimodel_fairseq").setLevel(logging.DEBUG)`` (with a handler,
e.g. ``logging.basicConfig()``), or ``logging.basicConfig(level=logging.DEBUG)`` before fairseq
is imported (fairseq's import sets the root logger to DEBUG itself, which does not count).
``tests/test_compat_patches.py`` checks the lines.

=  ============================  =============================================  ====================================
#  where                         what it replaces in fairseq                    why
=  ============================  =============================================  ====================================
1  ``patch_checkpoint_loading``  ``checkpoint_utils.torch`` (its ``load``)      torch >= 2.6 loads ``weights_only``;
                                                                                a fairseq checkpoint is a pickle
2  ``patch_checkpoint_copies``   ``checkpoint_utils.PathManager`` (``copy``)    copies to ``checkpoint_last.pt``
                                                                                atomic, not in place
3  ``patch_cpu_distributed``     ``distributed.utils``:                         DDP on CPU under torchrun (gloo):
                                 ``_infer_torch_distributed_launch_init``,      no CUDA device count, torchrun's
                                 ``infer_init_method``;                         ``WORLD_SIZE``, no ``device_ids``
                                 ``models.distributed_fairseq_model``:          for a CPU module
                                 ``DistributedDataParallel``
4  ``patch_bf16_without_tpu``    ``options.parse_args_and_arch``;               ``--bf16`` without a TPU: bf16
                                 ``trainer.Trainer``: ``__init__``,             autocast, fp32 weights; applied
                                 ``train_step``, ``valid_step``,                only where torch_xla is not
                                 ``state_dict``                                 installed
5  ``patch_save_dir_lock``       ``checkpoint_utils.load_checkpoint``           one training run per ``--save-dir``
                                                                                (a ``flock``)
6  ``tasks/default_arch.py``:    ``models.ARCH_MODEL_REGISTRY[None]``,          ``--arch`` optional where a
   ``register_no_arch``          ``models.ARCH_CONFIG_REGISTRY[None]`` (added)  checkpoint gives it, a message
                                                                                where it is missing
7  ``dropout.py``:               ``trainer.Trainer``: ``__init__``,             ``MINIMODEL_DROPOUT_MASKS=fast``:
   ``patch_trainer``             ``train_step``                                 dropout masks on CPU 4x faster
8  ``patch_gelu_bf16``           ``modules.gelu`` (what ``--activation-fn``     GELU of a bf16 CPU tensor without
                                 ``gelu`` gives a model)                        fairseq's fp32 round trip: 5x
                                                                                faster, the same values
=  ============================  =============================================  ====================================

Patch 6 lives with the tasks it serves (``tasks/default_arch.py`` explains it), patch 7 with the
masks it draws (``dropout.py``); their lines, like the others, come from :func:`log_patch`.

1. ``weights_only``. torch 2.6 changed ``torch.load``'s default to
   ``weights_only=True``. fairseq checkpoints are pickles that hold an
   ``argparse.Namespace``/omegaconf config and optimizer state, so every
   ``checkpoint_utils.load_checkpoint_to_cpu`` fails with an UnpicklingError.
   We give fairseq's ``checkpoint_utils`` module (and only it) a ``torch``
   whose ``load`` defaults to ``weights_only=False``. Everything else in the
   process keeps torch's safe default. Consequence: a fairseq checkpoint is
   trusted code, like any pickle; load only checkpoints you trust
   (docs/usage.md says so too).

2. Atomic checkpoint copies. fairseq writes the first checkpoint of a save
   atomically (``.tmp`` then rename) but *copies* it to the others
   (``checkpoint_last.pt`` next to ``checkpoint_1_300.pt``) in place: a kill
   during the copy leaves a half-written ``checkpoint_last.pt`` that the
   restarted run then fails to load. ``checkpoint_utils`` gets a PathManager
   whose ``copy`` writes a temporary file and renames it.

3. Distributed training on CPU (gloo). fairseq 0.12 assumes CUDA in its
   launch inference and its DDP wrapper. Under ``torchrun`` on a machine
   without CUDA: (a) ``_infer_torch_distributed_launch_init`` computes
   ``rank % torch.cuda.device_count()`` (ZeroDivisionError); on CPU the
   device id is 0. (b) ``--distributed-world-size`` defaults to the
   CUDA device count, 1, and fairseq then ignores torchrun's ``WORLD_SIZE``:
   every process silently trains alone. We take ``WORLD_SIZE`` from the
   environment when the flag was left at 1. (c) the ``pytorch_ddp`` wrapper
   passes ``device_ids=[0]`` for a CPU module, which torch rejects; we pass
   none for CPU modules (what torch documents for CPU DDP). Also, without
   CUDA the default ``nccl`` backend becomes ``gloo``.

4. ``--bf16`` without a TPU (CPU with ``--cpu``, or CUDA): mixed precision by
   autocast, fp32 weights. fairseq 0.12 ties ``--bf16`` to TPUs: the parser
   sets ``--tpu`` (the trainer then asks torch_xla for a device:
   AttributeError on ``xla_device``), and the trainer casts the whole model
   to bfloat16 with fp32 master copies of the trainable tensors only. That
   would round every frozen tensor to bf16 (no longer bitwise what was
   loaded), write bf16 weights into checkpoints, and resume from them (the
   fp32 masters are not saved). Where torch_xla is not installed we drop the
   implied ``--tpu`` and keep the model, the optimizer and the checkpoints
   exactly as in fp32; the trainer's ``train_step``/``valid_step`` run under
   ``torch.autocast(device, torch.bfloat16)``, so matrix products compute in
   bf16 (AVX-512 BF16 / AMX on CPU, tensor cores on CUDA) while weights,
   gradients, the optimizer step and the losses (fairseq's criterions take
   log-softmax in fp32) stay fp32. bf16 needs no loss scaling. On CPU it is
   as fast as a cast model for full training and up to ~15% slower with a
   frozen body (elementwise ops stay fp32), for exact frozen tensors and
   checkpoints (docs/benchmarks.md, "bfloat16 on CPU"). fairseq's own
   ``--fp16`` (CUDA) is left as it is. Where torch_xla is installed the patch is
   not applied at all: ``--bf16`` is fairseq's own TPU path. On CUDA: see
   :func:`patch_bf16_without_tpu`.

5. One run per ``--save-dir``. fairseq lets two runs write one ``--save-dir``
   (both exit 0; one run's checkpoints are lost). Before loading
   ``checkpoint_last.pt`` the first process of a run takes an exclusive
   ``flock`` on ``SAVE_DIR/.minimodel.lock`` (with its pid in it) and holds it
   until it exits; a second run is refused. The kernel drops the lock when the
   holder dies, SIGKILL included, so a restarted run resumes as before.

8. GELU under bf16 autocast on CPU. fairseq's ``gelu`` is ``F.gelu(x.float()).type_as(x)``: the
   fp32 round trip keeps fp16 (CUDA) from overflowing. Under bf16 autocast the feed-forward's
   input is bf16, and the round trip (two copies, the GELU and its backward in fp32) takes 5 ms
   where torch's bf16 GELU takes 1 ms (forward and backward of one layer's 16 x 128 x 1024
   activations, 2 cores). torch's CPU kernel for a bf16 tensor computes in fp32 and rounds once,
   as the round trip does: the gradient is bitwise the same for every finite bf16 input, the
   value for every one but where GELU(x) ~ x / 2 is subnormal (|x| < 2.4e-38: a signed zero
   there) (``tests/test_compat_patches.py`` checks all 65,280). Other dtypes and devices take
   fairseq's function unchanged.
"""

import argparse
import contextlib
import functools
import importlib.util
import logging
import os
import shutil
import sys
import types

import torch

logger = logging.getLogger(__name__)


def _debug_asked_for() -> bool:
    """Whether DEBUG was asked for the plugin: a level set on its logger (``minimodel_fairseq`` or this
    one), or else on the root logger before fairseq was imported. fairseq's import itself runs
    ``logging.basicConfig(level=logging.DEBUG)`` (fairseq/models/wav2vec/wav2vec2_classification.py);
    that alone must not print the patch lines, e.g. on the stderr of every ``minimodel`` command."""
    for name in (__name__, "minimodel_fairseq"):
        level = logging.getLogger(name).level
        if level != logging.NOTSET:
            return level <= logging.DEBUG
    return "fairseq" not in sys.modules and logger.isEnabledFor(logging.DEBUG)


_SHOW_PATCHES = _debug_asked_for()  # read now: the patches below import fairseq


def log_patch(what: str, why: str) -> None:
    """The one DEBUG line of a patch applied, ``compat: patched WHAT (WHY)`` (the module's docstring
    lists them all); logged where DEBUG was asked for before the plugin's import (:func:`_debug_asked_for`)."""
    if _SHOW_PATCHES:
        logger.debug("compat: patched %s (%s)", what, why)


class _TorchForFairseqCheckpoints(types.ModuleType):
    """``torch`` as seen from fairseq.checkpoint_utils: same module, trusted ``load`` of a file whose
    bytes are checked first (integrity.verify_checkpoint: torch never checks the archive's CRC-32)."""

    def __init__(self):
        super().__init__("torch")

    @staticmethod
    def load(f, *args, **kwargs):
        from .integrity import verify_checkpoint

        verify_checkpoint(f)
        return torch.load(f, *args, **{"weights_only": False, **kwargs})

    def __getattr__(self, name):
        return getattr(torch, name)


def patch_checkpoint_loading() -> None:
    """Make fairseq's checkpoint loading work under torch >= 2.6 (idempotent)."""
    from fairseq import checkpoint_utils

    if not isinstance(checkpoint_utils.torch, _TorchForFairseqCheckpoints):
        checkpoint_utils.torch = _TorchForFairseqCheckpoints()
        log_patch(
            "fairseq.checkpoint_utils.torch.load",
            "weights_only=False: torch >= 2.6 cannot load fairseq's pickled checkpoints otherwise",
        )


class _AtomicCopyPathManager:
    """fairseq's PathManager as seen from checkpoint_utils, with an atomic ``copy`` for local files."""

    def __init__(self, path_manager):
        self._pm = path_manager

    def copy(self, src_path, dst_path, overwrite=False):
        if "://" in str(dst_path):  # a remote backend: leave it to iopath
            return self._pm.copy(src_path, dst_path, overwrite)
        if os.path.exists(dst_path) and not overwrite:
            return False
        from .files import atomic_write

        atomic_write(dst_path, lambda tmp: shutil.copyfile(src_path, tmp))
        return True

    def __getattr__(self, name):
        return getattr(self._pm, name)


def patch_checkpoint_copies() -> None:
    """Make fairseq's checkpoint copies (e.g. to checkpoint_last.pt) atomic (idempotent)."""
    from fairseq import checkpoint_utils

    if not isinstance(checkpoint_utils.PathManager, _AtomicCopyPathManager):
        checkpoint_utils.PathManager = _AtomicCopyPathManager(checkpoint_utils.PathManager)
        log_patch(
            "fairseq.checkpoint_utils.PathManager.copy",
            "atomic copies: a kill mid-copy leaves no half-written checkpoint_last.pt",
        )


def _torchrun_env():
    return all(k in os.environ for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"))


def patch_cpu_distributed() -> None:
    """Let fairseq's DDP run on CPU processes launched by torchrun (gloo backend) (idempotent)."""
    from fairseq.distributed import utils as dist_utils
    from fairseq.models import distributed_fairseq_model as dfm

    if getattr(dist_utils, "_minimodel_patched", False):
        return
    infer_launch, infer_init = (
        dist_utils._infer_torch_distributed_launch_init,
        dist_utils.infer_init_method,
    )

    def _infer_torch_distributed_launch_init(cfg):
        if torch.cuda.device_count() > 0:
            return infer_launch(cfg)
        cfg.distributed_init_method = "env://"
        cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
        cfg.distributed_rank = int(os.environ["RANK"])
        cfg.device_id = 0  # no CUDA device to pick (fairseq would call torch.cuda.set_device)
        cfg.distributed_no_spawn = True  # torchrun made the processes

    def infer_init_method(cfg, force_distributed=False):
        world = int(os.environ.get("WORLD_SIZE", 1)) if _torchrun_env() else 1
        if cfg.distributed_init_method is None and world > 1 and cfg.distributed_world_size == 1:
            logger.info("torchrun started %d processes: --distributed-world-size %d", world, world)
            cfg.distributed_world_size = world
        if world > 1 and not torch.cuda.is_available() and cfg.distributed_backend == "nccl":
            logger.info("no CUDA: --distributed-backend gloo instead of nccl")
            cfg.distributed_backend = "gloo"
        return infer_init(cfg, force_distributed)

    class DistributedDataParallel(dfm.DistributedDataParallel):
        """torch's DDP; a CPU module gets no ``device_ids`` (torch refuses any)."""

        def __init__(self, module, device_ids=None, output_device=None, **kwargs):
            if all(p.device.type == "cpu" for p in module.parameters()):
                device_ids = output_device = None
            super().__init__(module, device_ids=device_ids, output_device=output_device, **kwargs)

    dist_utils._infer_torch_distributed_launch_init = _infer_torch_distributed_launch_init
    dist_utils.infer_init_method = infer_init_method
    dfm.DistributedDataParallel = DistributedDataParallel
    dist_utils._minimodel_patched = True
    log_patch(
        "fairseq.distributed.utils._infer_torch_distributed_launch_init, "
        "fairseq.distributed.utils.infer_init_method, "
        "fairseq.models.distributed_fairseq_model.DistributedDataParallel",
        "DDP on CPU under torchrun: gloo, torchrun's WORLD_SIZE, no device_ids for a CPU module",
    )


def _have_xla() -> bool:
    return importlib.util.find_spec("torch_xla") is not None


def patch_bf16_without_tpu() -> None:
    """``--bf16`` where there is no TPU: bf16 autocast around the trainer's steps, fp32 weights (idempotent).

    Applied only where torch_xla is not importable (``importlib.util.find_spec("torch_xla")``):
    with torch_xla installed, ``--bf16`` stays fairseq's own TPU path, untouched. Without it:

    - ``options.parse_args_and_arch`` drops the ``--tpu`` that fairseq's parser sets for ``--bf16``
      (fairseq's parser itself still refuses ``--fp16`` with ``--bf16``: "Cannot combine --fp16 and
      --tpu").
    - ``Trainer.__init__`` turns ``common.bf16`` (and ``memory_efficient_bf16``) off before fairseq's
      trainer sees the config, so fairseq neither casts the model and criterion to bfloat16 nor
      converts the samples, nor wraps the optimizer in its FP16Optimizer: the model, its gradients
      and the optimizer state stay fp32, and nothing scales the loss.
    - ``train_step`` / ``valid_step`` (forward, backward and, inside fairseq's ``train_step``, the
      optimizer step) run under ``torch.autocast(trainer.device.type, dtype=torch.bfloat16)``.
    - ``Trainer.state_dict`` writes ``common.bf16 = True`` back into each checkpoint's config, so
      it says what ran; the tensors in it are fp32.

    On CUDA (fairseq's trainer takes ``cuda`` when a GPU is visible and ``--cpu`` is not given)
    this is exactly the same code with device type ``cuda``: ``torch.autocast("cuda",
    dtype=torch.bfloat16)`` runs the ops on CUDA autocast's lower-precision list (matrix products:
    ``linear``, ``matmul``, ``bmm``, convolutions) in bf16, and those on its fp32 list (softmax,
    log-softmax, layer norm, the losses) in fp32, over fp32 weights. ``--bf16`` alone involves
    neither of fairseq's CUDA mixed-precision paths (``--fp16``: a half model, fp32 masters, loss
    scaling; ``--amp``: fp16 autocast, loss scaling).
    Where ``torch.cuda.is_bf16_supported()`` is False, ``torch.autocast`` itself raises
    "Current CUDA Device does not support bfloat16" at the first step.
    """
    if _have_xla():
        if _SHOW_PATCHES:
            logger.debug(
                "compat: not patched fairseq.options.parse_args_and_arch, fairseq.trainer.Trainer "
                "(torch_xla is installed: --bf16 stays fairseq's own TPU path)"
            )
        return
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    if getattr(Trainer, "_minimodel_autocast_patched", False):
        return
    parse_args_and_arch = options.parse_args_and_arch
    trainer_init, train_step, valid_step = Trainer.__init__, Trainer.train_step, Trainer.valid_step
    state_dict = Trainer.state_dict

    @functools.wraps(parse_args_and_arch)
    def parse_without_implied_tpu(*args, **kwargs):
        out = parse_args_and_arch(*args, **kwargs)
        ns = out[0] if isinstance(out, tuple) else out
        if getattr(ns, "bf16", False) and getattr(ns, "tpu", False):
            ns.tpu = False  # fairseq's "--bf16 implies --tpu"; without torch_xla there is no TPU
        return out

    @functools.wraps(trainer_init)
    def __init__(self, cfg, *args, **kwargs):
        if isinstance(cfg, argparse.Namespace):
            cfg = convert_namespace_to_omegaconf(cfg)
        common = cfg.common
        if (
            common.bf16 and common.tpu
        ):  # the command line was parsed unpatched (and there is no torch_xla)
            raise ValueError(
                "--bf16 turned on --tpu but torch_xla is not installed: import minimodel_fairseq "
                "before fairseq parses the command line (fairseq-train --user-dir does)"
            )
        autocast = bool(common.bf16 and not common.tpu)
        if autocast:  # the trainer then keeps the model, the optimizer and the samples in fp32
            common.bf16 = common.memory_efficient_bf16 = False
        trainer_init(self, cfg, *args, **kwargs)
        self.minimodel_autocast = torch.bfloat16 if autocast else None
        if autocast:
            logger.info(
                "--bf16 without a TPU: matrix products in bfloat16 (torch.autocast on %s), "
                "weights, optimizer and checkpoints in fp32",
                self.device.type,
            )

    def _autocast(self):
        dtype = getattr(self, "minimodel_autocast", None)
        return torch.autocast(self.device.type, dtype=dtype) if dtype else contextlib.nullcontext()

    # the optimizer step inside train_step is elementwise fp32 work, which autocast leaves alone
    @functools.wraps(train_step)
    def train_step_autocast(self, *args, **kwargs):
        with _autocast(self):
            return train_step(self, *args, **kwargs)

    @functools.wraps(valid_step)
    def valid_step_autocast(self, *args, **kwargs):
        with _autocast(self):
            return valid_step(self, *args, **kwargs)

    @functools.wraps(state_dict)
    def state_dict_records_bf16(
        self,
    ):  # the trainer's cfg says bf16=False (above); checkpoints say what ran
        state = state_dict(self)
        if getattr(self, "minimodel_autocast", None) and isinstance(state.get("cfg"), dict):
            state["cfg"]["common"]["bf16"] = True
        return state

    options.parse_args_and_arch = parse_without_implied_tpu
    Trainer.__init__, Trainer.train_step, Trainer.valid_step = (
        __init__,
        train_step_autocast,
        valid_step_autocast,
    )
    Trainer.state_dict = state_dict_records_bf16
    Trainer._minimodel_autocast_patched = True
    log_patch(
        "fairseq.options.parse_args_and_arch, fairseq.trainer.Trainer.__init__/train_step/valid_step/"
        "state_dict",
        "--bf16 without torch_xla: bf16 autocast over fp32 weights instead of --tpu",
    )


def patch_gelu_bf16() -> None:
    """fairseq's ``gelu`` without its fp32 round trip for bf16 tensors on CPU (idempotent; reason 8)."""
    import fairseq.modules  # re-exports the function as fairseq.modules.gelu, shadowing its module

    fairseq_gelu = sys.modules["fairseq.modules.gelu"].gelu
    if getattr(fairseq_gelu, "_minimodel", False):
        return

    @functools.wraps(fairseq_gelu)
    def gelu(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.bfloat16 and x.device.type == "cpu":
            return torch.nn.functional.gelu(x)  # computes in fp32, rounds once: as the round trip
        return fairseq_gelu(x)

    gelu._minimodel = True
    fairseq.modules.gelu = sys.modules["fairseq.modules.gelu"].gelu = gelu
    log_patch(
        "fairseq.modules.gelu",
        "bf16 on CPU: torch's bf16 GELU, 5x faster than fairseq's fp32 round trip, same values",
    )


_SAVE_DIR_LOCKS = {}  # save dir -> open lock file, held for the life of the process


def lock_save_dir(save_dir) -> None:
    """Take (or keep) this process's exclusive lock on ``save_dir``; a ValueError if another run holds it."""
    import fcntl

    key = os.path.realpath(save_dir)
    if (
        key in _SAVE_DIR_LOCKS
    ):  # this process already trains there (a trainer built again in-process)
        return
    os.makedirs(key, exist_ok=True)
    f = open(os.path.join(key, ".minimodel.lock"), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise ValueError(
            f"--save-dir {save_dir} is in use by another training run (pid {holder}): wait for it "
            f"to end, or give this run another --save-dir"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _SAVE_DIR_LOCKS[key] = f
    from .files import remove_leftovers_in

    remove_leftovers_in(
        save_dir
    )  # a SIGKILLed run's half-written checkpoint copies: no one else writes here now


def patch_save_dir_lock() -> None:
    """Lock ``--save-dir`` when fairseq-train loads (or starts) its checkpoint (idempotent)."""
    from fairseq import checkpoint_utils

    load = checkpoint_utils.load_checkpoint
    if getattr(load, "_minimodel_locks", False):
        return

    @functools.wraps(load)
    def load_checkpoint_locked(cfg, trainer, **kwargs):
        if (
            not cfg.no_save
            and "://" not in str(cfg.save_dir)
            and getattr(trainer, "data_parallel_rank", 0) == 0
        ):
            lock_save_dir(cfg.save_dir)
        return load(cfg, trainer, **kwargs)

    load_checkpoint_locked._minimodel_locks = True
    checkpoint_utils.load_checkpoint = load_checkpoint_locked
    log_patch(
        "fairseq.checkpoint_utils.load_checkpoint",
        "a flock on SAVE_DIR/.minimodel.lock: one training run per --save-dir",
    )


def load_checkpoint(path):
    """Load a fairseq checkpoint file as fairseq does (trusted pickle, on CPU)."""
    from fairseq import checkpoint_utils

    patch_checkpoint_loading()
    return checkpoint_utils.load_checkpoint_to_cpu(path)


patch_checkpoint_loading()
patch_checkpoint_copies()
patch_save_dir_lock()
patch_cpu_distributed()
patch_bf16_without_tpu()
patch_gelu_bf16()

from . import dropout  # noqa: E402  (after patch 4: it wraps the trainer that patch 4 wrapped)

dropout.patch_trainer()
