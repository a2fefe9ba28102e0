"""Loading SAM 2 models: which model a name or checkpoint means, safe checkpoint reading with strict
keys, and building a model with its weights (the registry and downloads live in :mod:`.weights`)."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import torch

from .model.build import build_model
from .device import available_memory
from .model.configs import CONFIGS, TRACKING_BYTES_PER_PIXEL, SAM2Config, get_config
from .model.sam2_base import SAM2Base
from .notices import QualityWarning, RandomWeightsWarning
from .weights import WeightsError, cached_path, default_model, resolve_checkpoint, where_to_put


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used with the requested model."""


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read the state dict of an official-format checkpoint (``{"model": state_dict}``) or a ``.safetensors`` file.

    Only tensors and plain containers are accepted (``torch.load(weights_only=True)``);
    a file that would run code when unpickled is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    _check_torch_file_header(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refusing to load {path}: it contains Python objects other than tensors "
            f"(possible code), and only weights are allowed ({exc.__class__.__name__})") from None
    except Exception as exc:  # zip/pickle framing errors for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors (expected {{'model': state_dict}})")
    return data


# torch.save writes a zip archive (torch >= 1.6) or, in the legacy format, a pickle of protocol 2
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOLS = range(2, 6)


def _check_torch_file_header(path: Path) -> None:
    """Refuse a file that cannot be a PyTorch checkpoint at all, before torch's unpickler calls its
    bytes "unsupported" (which would read as if the file held code)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:4] in _ZIP_MAGIC or (len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS):
        return
    raise CheckpointError(
        f"{path} is not a PyTorch checkpoint: it is neither a zip archive (what torch.save writes) nor a "
        f"pickle (torch's legacy format); it starts with {head!r} ({path.stat().st_size} bytes). "
        f"Check that the download is complete and the file is the right one")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise CheckpointError(f"{path} is a safetensors file: install the 'safetensors' package to read it") from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Raise :class:`CheckpointError` naming missing, unexpected or mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", shapes)):
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(f"{source} does not fit this model ({getattr(model, 'cfg', None) and model.cfg.name}): "
                              + "; ".join(problems))


# checkpoint values with a meaning of their own (anything else that is not None is a file path)
LOCAL = "local"  # the default: the model's own file on this machine, never downloaded
AUTO = "auto"  # the model's own file on this machine, else a verified download
RANDOM_WEIGHTS_HELP = "checkpoint=None builds random weights (meaningless masks; for tests and plumbing only)"


def _keyword(checkpoint) -> str | None:
    """``"local"`` or ``"auto"`` when ``checkpoint`` is one of those keywords, else None."""
    if isinstance(checkpoint, str) and checkpoint.strip().lower() in (LOCAL, AUTO):
        return checkpoint.strip().lower()
    return None


def _is_file_checkpoint(checkpoint) -> bool:
    return checkpoint is not None and _keyword(checkpoint) is None


def resolve_model_name(name: str, checkpoint=LOCAL) -> str:
    """``"auto"``: the model a checkpoint file was made for (when ``checkpoint`` is a path), else
    the official sam2.1 tiny when its checkpoint is on this machine, else the bundled demo."""
    return resolve_model(name, checkpoint)[0]


def resolve_model(name: str, checkpoint=LOCAL) -> tuple[str, dict[str, torch.Tensor] | None]:
    """:func:`resolve_model_name`, plus the checkpoint's state dict when it had to be read to tell
    (so that building the model does not read the file a second time)."""
    if name.strip().lower() != "auto":
        return name, None
    if _is_file_checkpoint(checkpoint):
        state = read_checkpoint(checkpoint)
        return infer_model_name(state, source=str(checkpoint)), state
    return default_model(), None


def _signature(shapes: dict) -> tuple:
    """What tells the configs apart: trunk width, number of trunk blocks, SAM 2.1 extras, model width."""
    blocks = {k.split(".")[3] for k in shapes if k.startswith("image_encoder.trunk.blocks.")}
    return (tuple(shapes["image_encoder.trunk.patch_embed.proj.weight"]), len(blocks),
            "no_obj_embed_spatial" in shapes, tuple(shapes["no_mem_embed"]))


def infer_model_name(state: dict[str, torch.Tensor], source: str = "checkpoint") -> str:
    """The name of the config whose parameters ``state`` holds (by trunk width and depth, version, width)."""
    try:
        wanted = _signature({k: v.shape for k, v in state.items()})
    except KeyError as exc:
        raise CheckpointError(f"{source} is not a SAM 2 checkpoint (no {exc.args[0]})") from None
    for name, cfg in CONFIGS.items():
        t = cfg.trunk
        sig = ((t.embed_dim, 3, 7, 7), sum(t.stages), cfg.no_obj_embed_spatial, (1, 1, cfg.d_model))
        if sig == wanted:
            return name
    raise CheckpointError(f"{source} matches none of the known models ({', '.join(CONFIGS)}); pass --model")


def build_sam2(name: str = "sam2.1_hiera_tiny", checkpoint: str | os.PathLike | None = LOCAL,
               device: str | torch.device = "cpu", image_size: int | None = None) -> SAM2Base:
    """Build a SAM 2 model in eval mode.

    name: e.g. ``"sam2.1_hiera_tiny"``, ``"sam2_hiera_base_plus"`` (official short names
        like ``"sam2.1_hiera_b+"`` work too); ``"demo"`` for the bundled demo model;
        ``"auto"`` for :func:`resolve_model_name`.
    checkpoint: where the weights come from (docs/weights.md):

        * ``"local"`` (default): the model's own file on this machine — the bundled demo, the
          offline folder or the cache; never downloads, and an error says how to get the file;
        * ``"auto"``: the same, else a verified download of the official file;
        * a path to an official-format ``.pt`` (or ``.safetensors``) file, loaded with
          ``weights_only=True`` and strict key matching;
        * ``None``: random weights, only when asked for like this; a
          :class:`~napari_sam2.notices.RandomWeightsWarning` says the masks are meaningless.
    image_size: input resolution (default: the model's, 1024 for official ones, 256 for the demo),
        a multiple of 32. Far from the size the weights were trained at, masks get much worse:
        a :class:`~napari_sam2.notices.QualityWarning` names the trained size.
    """
    name, state = resolve_model(name, checkpoint)
    return build_from_config(get_config(name).with_image_size(image_size), checkpoint, device, state=state)


def local_checkpoint(name: str) -> Path:
    """The checkpoint file of model ``name`` on this machine (bundled, offline folder or cache), never
    downloaded; :class:`~napari_sam2.weights.WeightsError` saying how to get it when there is none."""
    path = cached_path(name)
    if path is None:
        raise WeightsError(
            f"no checkpoint for {name} on this machine. Get it with `napari-sam2 weights download {name}` "
            f"or build with checkpoint=\"auto\" (downloads it, checked); without network, "
            f"{where_to_put(name)}. Or {RANDOM_WEIGHTS_HELP}")
    return path


def check_memory_for(image_size: int, device) -> None:
    """Refuse, before anything is allocated, an input size whose tracking would not fit this machine's
    memory (on the CPU; a GPU reports its own out-of-memory error)."""
    if str(device).split(":")[0] != "cpu":
        return
    need, have = TRACKING_BYTES_PER_PIXEL * image_size**2, available_memory()
    if have is not None and need > have:
        raise ValueError(f"image size {image_size} px needs about {need / 2**30:.1f} GB of memory to track, and "
                         f"this machine has {have / 2**30:.1f} GB free: use a smaller image size, or window "
                         f"mode for large frames")


def build_from_config(cfg: SAM2Config, checkpoint: str | os.PathLike | None = LOCAL,
                      device: str | torch.device = "cpu", state: dict[str, torch.Tensor] | None = None) -> SAM2Base:
    """:func:`build_model` plus strict, safe checkpoint loading; eval mode on ``device``.

    ``checkpoint``: as in :func:`build_sam2` (``"local"``, ``"auto"``, a path, or ``None`` for
    random weights, with a warning). ``state``: the checkpoint's state dict when the caller has
    read it already. A ``cfg.image_size`` far from the trained size gets a QualityWarning.
    """
    check_memory_for(cfg.image_size, device)
    model = build_model(cfg)
    keyword = _keyword(checkpoint)
    if keyword == AUTO:
        checkpoint = resolve_checkpoint(cfg.name)
    elif keyword == LOCAL:
        checkpoint = local_checkpoint(cfg.name)
    if checkpoint is None:
        warnings.warn(f"{cfg.name} has random weights (checkpoint=None): its masks are meaningless. "
                      f"For real masks build with checkpoint=\"local\" or \"auto\" or a checkpoint file",
                      RandomWeightsWarning, stacklevel=3)
    else:
        if state is None:
            state = read_checkpoint(checkpoint)
        check_state_dict(model, state, source=str(checkpoint))
        model.load_state_dict(state, strict=True)
        advice = cfg.image_size_advice()
        if advice:
            warnings.warn(advice, QualityWarning, stacklevel=3)
    return model.to(device).eval()
