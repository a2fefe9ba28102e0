"""Shared test settings: deterministic CPU threads, an environment apart from the user's, small synthetic inputs."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))  # for `import oracle`
pytest_plugins = ("widget_fixtures",)  # the GUI tests' fixtures (checkpoint, ready, answers)

torch.set_num_threads(min(2, os.cpu_count() or 1))

# every variable the package reads (weights.py: cache, offline folder, mirror; threads.py)
ENV_PREFIX = "NAPARI_SAM2_"
NO_NETWORK = (
    "http://127.0.0.1:9"  # nothing listens there: a download a test did not arrange fails fast
)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Each test sees an empty checkpoint cache of its own, no offline folder, no network mirror and
    none of the user's NAPARI_SAM2_* settings, so that results never depend on this machine's files.
    Tests that need a cache, a folder or a (local) mirror set the variables themselves."""
    from napari_sam2 import weights

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path_factory.mktemp("checkpoint-cache")))
    monkeypatch.setenv(weights.MIRROR_ENV, NO_NETWORK)
    threads = (
        torch.get_num_threads()
    )  # the CLI and widget set torch's threads; give the next test ours back
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 300x400 uint8 RGB image with some structure (a bright disc on noise)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 120, (300, 400, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:300, :400]
    img[(yy - 140) ** 2 + (xx - 180) ** 2 < 60**2] += 120
    return img


def present_model(image_size: int, seed: int):
    """A tiny random SAM 2.1 video model whose object head says "present" (so masks are real)."""
    from napari_sam2 import build_sam2_video_predictor

    torch.manual_seed(seed)
    model = build_sam2_video_predictor(
        "sam2.1_hiera_tiny", checkpoint=None, image_size=image_size
    ).model  # random
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(3.0)
    return model


def present_checkpoint(folder, image_size: int, seed: int):
    """:func:`present_model` saved as an official-format checkpoint in ``folder``."""
    path = folder / "present.pt"
    torch.save({"model": present_model(image_size, seed).state_dict()}, path)
    return path


def attention_inputs(model, run) -> list[tuple[torch.Size, torch.Size]]:
    """The shapes of (current-frame tokens, memory tokens) of every memory-attention call while ``run()``
    runs: ``[0][1]`` is the batch of objects, ``[1][0]`` the length of the memory bank."""
    seen = []
    hook = model.memory_attention.register_forward_hook(
        lambda mod, args, out: seen.append((args[0].shape, args[1].shape))
    )
    try:
        run()
    finally:
        hook.remove()
    return seen
