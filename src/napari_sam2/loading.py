"""Loading SAM 2 models: which model a name or checkpoint means, safe checkpoint reading with strict
keys, and building a model with its weights (the registry and downloads live in :mod:`.weights`)."""

from __future__ import annotations

import os
import pickle
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .device import available_memory, pick_device
from .model.build import build_model
from .model.configs import CONFIGS, TRACKING_BYTES_PER_PIXEL, SAM2Config, get_config
from .model.sam2_base import SAM2Base
from .notices import QualityWarning, RandomWeightsWarning
from .weights import (
    WeightsError,
    cached_path,
    default_model,
    hub_model,
    resolve_checkpoint,
    where_to_put,
)


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
            f"(possible code), and only weights are allowed ({exc.__class__.__name__})"
        ) from None
    except Exception as exc:  # zip/pickle framing errors for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(
            f"{path} does not hold a state dict of tensors (expected {{'model': state_dict}})"
        )
    return data


# torch.save writes a zip archive (torch >= 1.6) or, in the legacy format, a pickle of protocol 2
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOLS = range(2, 6)


def _check_torch_file_header(path: Path) -> None:
    """Refuse a file that cannot be a PyTorch checkpoint at all, before torch's unpickler calls its
    bytes "unsupported" (which would read as if the file held code)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:4] in _ZIP_MAGIC or (
        len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS
    ):
        return
    raise CheckpointError(
        f"{path} is not a PyTorch checkpoint: it is neither a zip archive (what torch.save writes) nor a "
        f"pickle (torch's legacy format); it starts with {head!r} ({path.stat().st_size} bytes). "
        f"Check that the download is complete and the file is the right one"
    )


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise CheckpointError(
            f"{path} is a safetensors file: install the 'safetensors' package to read it"
        ) from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None


def check_state_dict(
    model: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """Raise :class:`CheckpointError` naming missing, unexpected or mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    for label, keys in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatch", shapes),
    ):
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(
            f"{source} does not fit this model ({getattr(model, 'cfg', None) and model.cfg.name}): "
            + "; ".join(problems)
        )


# checkpoint values with a meaning of their own (anything else that is not None is a file path)
LOCAL = "local"  # the default: the model's own file on this machine, never downloaded
AUTO = "auto"  # the model's own file on this machine, else a verified download
RANDOM_WEIGHTS_HELP = (
    "checkpoint=None builds random weights (meaningless masks; for tests and plumbing only)"
)
NOT_GIVEN = object()  # an official keyword argument that was not given


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
    return (
        tuple(shapes["image_encoder.trunk.patch_embed.proj.weight"]),
        len(blocks),
        "no_obj_embed_spatial" in shapes,
        tuple(shapes["no_mem_embed"]),
    )


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
    raise CheckpointError(
        f"{source} matches none of the known models ({', '.join(CONFIGS)}); pass --model"
    )


def build_sam2(
    name: str | None = None,
    checkpoint: str | os.PathLike | None = LOCAL,
    device: str | torch.device | None = None,
    mode: str = "eval",
    hydra_overrides_extra=(),
    apply_postprocessing: bool = True,
    *,
    image_size: int | None = None,
    config_file: str | None = None,
    ckpt_path=NOT_GIVEN,
) -> SAM2Base:
    """Build a SAM 2 model, in the official ``build_sam2``'s argument order.

    name: e.g. ``"sam2.1_hiera_tiny"`` (the default), ``"sam2_hiera_base_plus"``, an official
        short name (``"sam2.1_hiera_b+"``) or config path
        (``"configs/sam2.1/sam2.1_hiera_t.yaml"``); ``"demo"`` for the bundled demo model;
        ``"auto"`` for :func:`resolve_model_name`. ``config_file=`` is the official keyword.
    checkpoint: where the weights come from (docs/weights.md); ``ckpt_path=`` is the official
        keyword:

        * ``"local"`` (default): the model's own file on this machine — the bundled demo, the
          offline folder or the cache; never downloads, and an error says how to get the file;
        * ``"auto"``: the same, else a verified download of the official file;
        * a path to an official-format ``.pt`` (or ``.safetensors``) file, loaded with
          ``weights_only=True`` and strict key matching;
        * ``None``: random weights, only when asked for like this; a
          :class:`~napari_sam2.notices.RandomWeightsWarning` says the masks are meaningless.
    device: None (the default) is the CPU, with a warning when CUDA is there unused (the official
        builders default to ``"cuda"``); ``"auto"`` picks cuda, then mps, then the CPU.
    mode: ``"eval"`` (default) or ``"train"``.
    hydra_overrides_extra: the official Hydra overrides that mean something here, e.g.
        ``["++model.image_size=512"]`` (:func:`official_settings`); others are refused by name.
    apply_postprocessing: the official switch; True adds the mask decoder's fallback to the most
        stable multimask output for single-mask calls (the official builder's setting), False
        leaves it off (the official automatic-mask notebook's choice for ``use_m2m``).
    image_size: input resolution (default: the model's, 1024 for official ones, 256 for the
        demo), a multiple of 32. Far from the size the weights were trained at, masks get much
        worse: a :class:`~napari_sam2.notices.QualityWarning` names the trained size.
    """
    name, checkpoint = official_names(name, checkpoint, config_file, ckpt_path)
    settings = official_settings(hydra_overrides_extra, apply_postprocessing, image_size=image_size)
    return build_configured(name, checkpoint, device, mode, settings)


_MODES = ("eval", "train")


def build_configured(
    name: str, checkpoint, device, mode: str, settings: "BuildSettings"
) -> SAM2Base:
    """The model ``name`` with ``settings`` applied, its weights loaded, on ``device``, in
    ``mode`` (the common part of the image and video builders)."""
    if mode not in _MODES:
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    device = resolve_device(device)
    name, state = resolve_model(name, checkpoint)
    model = build_from_config(settings.configure(get_config(name)), checkpoint, device, state=state)
    return model.train() if mode == "train" else model


def resolve_device(device: str | torch.device | None) -> str | torch.device:
    """The device a builder puts the model on: None is the CPU (with a warning when CUDA is there
    unused), ``"auto"`` is :func:`~napari_sam2.device.pick_device`'s choice, anything else as
    given."""
    if device is None:
        if torch.cuda.is_available():
            warnings.warn(
                "the model runs on the CPU, the default here, although CUDA is available "
                "(the official builders default to device='cuda'): pass device='cuda' or "
                "'auto' to use the GPU, or device='cpu' to silence this",
                UserWarning,
                stacklevel=4,
            )
        return "cpu"
    if isinstance(device, str) and device.strip().lower() == "auto":
        return pick_device("auto")
    return device


def official_names(name, checkpoint, config_file, ckpt_path) -> tuple[str, object]:
    """The model name and checkpoint from our keywords or the official ones (``config_file``,
    ``ckpt_path``); giving one thing both ways is an error."""
    if config_file is not None:
        if name is not None:
            raise TypeError(
                f"the model is given twice: name={name!r} and config_file={config_file!r}"
            )
        name = config_file
    if ckpt_path is not NOT_GIVEN:
        if _keyword(checkpoint) != LOCAL:
            raise TypeError(
                f"the checkpoint is given twice: checkpoint={checkpoint!r} and "
                f"ckpt_path={ckpt_path!r}"
            )
        checkpoint = ckpt_path
    return ("sam2.1_hiera_tiny" if name is None else name), checkpoint


def pretrained(model_id: str, build, **kwargs):
    """``build(name, "auto", **kwargs)`` for the model of an official Hugging Face id
    (``"facebook/sam2.1-hiera-tiny"``): its checkpoint from this machine or a verified download.
    Without network and without the file, a :class:`~napari_sam2.weights.WeightsError` names the
    id and says where to put the file."""
    name = hub_model(model_id)
    try:
        return build(name, AUTO, **kwargs)
    except WeightsError as exc:
        raise WeightsError(f"from_pretrained({model_id!r}): {exc}") from None


def build_sam2_hf(model_id: str, **kwargs) -> SAM2Base:
    """:func:`build_sam2` for an official Hugging Face model id, e.g.
    ``"facebook/sam2.1-hiera-tiny"``."""
    return pretrained(model_id, build_sam2, **kwargs)


# the builder's own arguments, taken out of a from_pretrained call; the rest go to the predictor
BUILD_ARGUMENTS = ("device", "mode", "hydra_overrides_extra", "apply_postprocessing", "image_size")


def pretrained_model(model_id: str, kwargs: dict) -> tuple[SAM2Base, dict]:
    """For an image predictor's ``from_pretrained(model_id, **kwargs)``: the model, built with the
    builder's arguments among ``kwargs``, and the other arguments (the predictor's)."""
    build = {k: v for k, v in kwargs.items() if k in BUILD_ARGUMENTS}
    options = {k: v for k, v in kwargs.items() if k not in BUILD_ARGUMENTS}
    return pretrained(model_id, build_sam2, **build), options


# ------------------------------------------------------------------ the official builders' settings


@dataclass
class BuildSettings:
    """What the official builders' ``hydra_overrides_extra`` and ``apply_postprocessing`` ask
    for, in our terms: an input size, fields of :class:`SAM2Config` (the decoder's ones as
    ``decoder``) and, for videos, options of ``SAM2VideoPredictor``."""

    image_size: int | None = None
    config: dict = field(default_factory=dict)
    decoder: dict = field(default_factory=dict)
    predictor: dict = field(default_factory=dict)

    def configure(self, cfg: SAM2Config) -> SAM2Config:
        return replace(
            cfg.with_image_size(self.image_size),
            **self.config,
            decoder_extra={**cfg.decoder_extra, **self.decoder},
        )


# The settings an override may change: (the part it belongs to, its type). Keys are the official
# config's (model.<key>); the video ones are options of the video predictor.
_DECODER_PREFIX = "sam_mask_decoder_extra_args."
OVERRIDES = {
    "image_size": ("image_size", int),
    "binarize_mask_from_pts_for_mem_enc": ("config", bool),
    _DECODER_PREFIX + "dynamic_multimask_via_stability": ("decoder", bool),
    _DECODER_PREFIX + "dynamic_multimask_stability_delta": ("decoder", float),
    _DECODER_PREFIX + "dynamic_multimask_stability_thresh": ("decoder", float),
    "fill_hole_area": ("predictor", int),
    "non_overlap_masks": ("predictor", bool),
    "clear_non_cond_mem_around_input": ("predictor", bool),
    "add_all_frames_to_correct_as_cond": ("predictor", bool),
}
_STABILITY = {"dynamic_multimask_stability_delta": 0.05, "dynamic_multimask_stability_thresh": 0.98}
# where the official builders start from: its yaml and class defaults (no stability fallback, no
# binarised prompt masks, no hole filling)
_DEFAULTS = {
    "config": {"binarize_mask_from_pts_for_mem_enc": False},
    "decoder": {"dynamic_multimask_via_stability": False, **_STABILITY},
}
_VIDEO_DEFAULTS = {"predictor": {"fill_hole_area": 0}}
# what apply_postprocessing=True sets after the overrides (official build_sam.py): the decoder's
# fallback for both builders; memory of binarised prompt masks and hole filling for videos
_POSTPROCESSING = {"decoder": {"dynamic_multimask_via_stability": True, **_STABILITY}}
_VIDEO_POSTPROCESSING = {
    "config": {"binarize_mask_from_pts_for_mem_enc": True},
    "predictor": {"fill_hole_area": 8},
}
_OVERRIDE = re.compile(r"^\s*(?:\+\+|\+)?model\.([\w.]+)\s*=\s*(.*?)\s*$")


def official_settings(
    hydra_overrides_extra=(),
    apply_postprocessing: bool = True,
    video: bool = False,
    image_size: int | None = None,
) -> BuildSettings:
    """The settings the official builder makes from these arguments (``video``: the video
    builder's).

    Accepted overrides (``++model.<key>=<value>``, ``+`` or no prefix too): ``image_size``, the
    mask decoder's ``sam_mask_decoder_extra_args.dynamic_multimask_*`` keys,
    ``binarize_mask_from_pts_for_mem_enc``, and for videos ``fill_hole_area``,
    ``non_overlap_masks``, ``clear_non_cond_mem_around_input``,
    ``add_all_frames_to_correct_as_cond``. As in the official builder,
    ``apply_postprocessing=True`` sets its keys after the overrides. Any other override is a
    ValueError that names it. ``image_size``: our keyword; it must agree with an override.
    """
    overrides = hydra_overrides_extra
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise TypeError(
            f"hydra_overrides_extra must be a list of strings like "
            f"'++model.image_size=512', got {overrides!r}"
        )
    layers = [_DEFAULTS, _VIDEO_DEFAULTS] if video else [_DEFAULTS]
    layers.append(_overrides(overrides, video))
    if apply_postprocessing:
        layers += [_POSTPROCESSING, _VIDEO_POSTPROCESSING] if video else [_POSTPROCESSING]
    parts = {"image_size": {}, "config": {}, "decoder": {}, "predictor": {}}
    for layer in layers:  # later ones win, as later Hydra overrides do
        for part, values in layer.items():
            parts[part].update(values)
    size = parts["image_size"].get("image_size")
    if image_size is not None and size is not None and image_size != size:
        raise ValueError(
            f"image_size={image_size} but hydra_overrides_extra sets model.image_size={size}"
        )
    return BuildSettings(
        size if image_size is None else image_size,
        parts["config"],
        parts["decoder"],
        parts["predictor"],
    )


def _overrides(texts, video: bool) -> dict[str, dict]:
    """The overrides as ``{part: {setting: value}}`` (see :data:`OVERRIDES`)."""
    parts: dict[str, dict] = {}
    for text in texts:
        key, value = _parse_override(text, video)
        parts.setdefault(OVERRIDES[key][0], {})[key.removeprefix(_DECODER_PREFIX)] = value
    return parts


def _parse_override(text: str, video: bool) -> tuple[str, object]:
    found = _OVERRIDE.match(text)
    key = found.group(1) if found else None
    if key not in OVERRIDES or (OVERRIDES[key][0] == "predictor" and not video):
        accepted = [k for k, (part, _) in OVERRIDES.items() if video or part != "predictor"]
        video_only = (
            "" if video else (" (the video predictor's options only in build_sam2_video_predictor)")
        )
        raise ValueError(
            f"hydra override {text!r} is not supported here: this package has no "
            f"Hydra configs, and the overrides it understands are "
            f"++model.<key>=<value> for {', '.join(accepted)}{video_only}"
        )
    kind, raw = OVERRIDES[key][1], found.group(2)
    if kind is bool and raw.lower() in ("true", "false"):
        return key, raw.lower() == "true"
    if kind is not bool:
        try:
            return key, kind(raw)
        except ValueError:
            pass
    raise ValueError(f"hydra override {text!r}: {raw!r} is not a {kind.__name__}")


def local_checkpoint(name: str) -> Path:
    """The checkpoint file of model ``name`` on this machine (bundled, offline folder or cache), never
    downloaded; :class:`~napari_sam2.weights.WeightsError` saying how to get it when there is none."""
    path = cached_path(name)
    if path is None:
        raise WeightsError(
            f"no checkpoint for {name} on this machine. Get it with `napari-sam2 weights download {name}` "
            f'or build with checkpoint="auto" (downloads it, checked); without network, '
            f"{where_to_put(name)}. Or {RANDOM_WEIGHTS_HELP}"
        )
    return path


def check_memory_for(image_size: int, device) -> None:
    """Refuse, before anything is allocated, an input size whose tracking would not fit this machine's
    memory (on the CPU; a GPU reports its own out-of-memory error)."""
    if str(device).split(":")[0] != "cpu":
        return
    need, have = TRACKING_BYTES_PER_PIXEL * image_size**2, available_memory()
    if have is not None and need > have:
        raise ValueError(
            f"image size {image_size} px needs about {need / 2**30:.1f} GB of memory to track, and "
            f"this machine has {have / 2**30:.1f} GB free: use a smaller image size, or window "
            f"mode for large frames"
        )


def build_from_config(
    cfg: SAM2Config,
    checkpoint: str | os.PathLike | None = LOCAL,
    device: str | torch.device = "cpu",
    state: dict[str, torch.Tensor] | None = None,
) -> SAM2Base:
    """:func:`build_model` plus strict, safe checkpoint loading; eval mode on ``device``.

    ``checkpoint``: as in :func:`build_sam2` (``"local"``, ``"auto"``, a path, or ``None`` for
    random weights, with a warning). ``state``: the checkpoint's state dict when the caller has
    read it already. A ``cfg.image_size`` far from the trained size gets a QualityWarning. The
    warnings name the line that called a builder (build_sam2 -> build_configured -> here).
    """
    check_memory_for(cfg.image_size, device)
    keyword = _keyword(checkpoint)
    if keyword == AUTO:
        checkpoint = resolve_checkpoint(cfg.name)
    elif keyword == LOCAL:
        checkpoint = local_checkpoint(cfg.name)
    model = build_model(cfg)
    if checkpoint is None:
        warnings.warn(
            f"{cfg.name} has random weights (checkpoint=None): its masks are meaningless. "
            f'For real masks build with checkpoint="local" or "auto" or a checkpoint file',
            RandomWeightsWarning,
            stacklevel=4,
        )
    else:
        if state is None:
            state = read_checkpoint(checkpoint)
        check_state_dict(model, state, source=str(checkpoint))
        model.load_state_dict(state, strict=True)
        advice = cfg.image_size_advice()
        if advice:
            warnings.warn(advice, QualityWarning, stacklevel=4)
    return model.to(device).eval()
