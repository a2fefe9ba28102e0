"""Checkpoint loading: official format, strict keys, and refusal of anything but tensors."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

from napari_sam2 import CheckpointError, build_sam2, build_sam2_video_predictor
from napari_sam2.engine.session import TrackingSession
from napari_sam2.model import build_model, get_config
from napari_sam2.notices import QualityWarning, RandomWeightsWarning


@pytest.fixture(scope="module")
def tiny_state():
    torch.manual_seed(3)
    return build_model(get_config("sam2.1_hiera_tiny").with_image_size(256)).state_dict()


def test_official_format_round_trip(tmp_path, tiny_state):
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": tiny_state}, path)
    model = build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    loaded = model.state_dict()
    assert loaded.keys() == tiny_state.keys()
    assert all(torch.equal(loaded[k], tiny_state[k]) for k in tiny_state)
    assert not model.training


def test_official_checkpoint_file_loads(tmp_path):
    """A checkpoint written from the official model (as its training code saves it) loads strictly."""
    import oracle

    off = oracle.build_official("sam2_hiera_small", 256)
    path = tmp_path / "sam2_hiera_small.pt"
    torch.save({"model": off.state_dict()}, path)
    ours = build_sam2("sam2_hiera_small", checkpoint=path, image_size=256)
    assert all(torch.equal(v, off.state_dict()[k]) for k, v in ours.state_dict().items())


def test_missing_key_is_named(tmp_path, tiny_state):
    state = dict(tiny_state)
    del state["no_mem_embed"]
    torch.save({"model": state}, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="missing keys: no_mem_embed"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=tmp_path / "m.pt", image_size=256)


def test_unexpected_key_is_named(tmp_path, tiny_state):
    state = dict(tiny_state, extra_head_weight=torch.zeros(3))
    torch.save({"model": state}, tmp_path / "u.pt")
    with pytest.raises(CheckpointError, match="unexpected keys: extra_head_weight"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=tmp_path / "u.pt", image_size=256)


def test_wrong_model_size_is_reported(tmp_path, tiny_state):
    torch.save({"model": tiny_state}, tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="sam2.1_hiera_base_plus"):
        build_sam2("sam2.1_hiera_base_plus", checkpoint=tmp_path / "t.pt", image_size=256)
    # a SAM 2.1 file into a SAM 2 model: the 2.1-only parameters are unexpected
    with pytest.raises(CheckpointError, match="unexpected keys: .*no_obj_embed_spatial"):
        build_sam2("sam2_hiera_tiny", checkpoint=tmp_path / "t.pt", image_size=256)


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_code_is_refused_and_not_run(tmp_path, tiny_state):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": tiny_state, "extra": _Payload(str(marker))}, path)
    with pytest.raises(CheckpointError, match="refusing to load .*possible code"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert not marker.exists()


def test_raw_pickle_is_refused(tmp_path):
    path = tmp_path / "raw.pt"
    with open(path, "wb") as fh:
        pickle.dump({"model": _Payload(str(tmp_path / "x"))}, fh)
    with pytest.raises(CheckpointError, match="refusing to load .*possible code"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert not (tmp_path / "x").exists()


def test_truncated_file_is_refused(tmp_path, tiny_state):
    path = tmp_path / "cut.pt"
    torch.save({"model": tiny_state}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)


def test_not_a_state_dict_is_refused(tmp_path):
    torch.save({"model": [1, 2, 3]}, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="state dict"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=tmp_path / "list.pt", image_size=256)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="not found: .*nope.pt"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=tmp_path / "nope.pt")


def test_unknown_model_and_bad_image_size():
    with pytest.raises(ValueError, match="unknown model 'sam3_hiera_tiny'"):
        build_sam2("sam3_hiera_tiny")
    with pytest.raises(ValueError, match="multiple of 32"):
        build_sam2("sam2.1_hiera_tiny", image_size=250)


def test_short_official_names_resolve():
    assert get_config("sam2.1_hiera_b+").name == "sam2.1_hiera_base_plus"
    assert get_config("sam2_hiera_t.yaml").name == "sam2_hiera_tiny"


def test_safetensors_file_loads(tmp_path, tiny_state):
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "tiny.safetensors"
    st.save_file({k: v.contiguous() for k, v in tiny_state.items()}, str(path))
    model = build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert all(torch.equal(v, tiny_state[k]) for k, v in model.state_dict().items())
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)


# --------------------------------------------------------------- where the weights come from


def _same_weights(model, state) -> bool:
    own = model.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)


def test_named_model_without_checkpoint_loads_its_own_weights():
    """`build_sam2("demo")` (the README's form) is the bundled model, not random weights."""
    from napari_sam2.loading import read_checkpoint
    from napari_sam2.weights import DEMO_FILE

    shipped = read_checkpoint(DEMO_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QualityWarning)  # neither random weights nor a size warning
        assert _same_weights(build_sam2("demo"), shipped)
        assert _same_weights(build_sam2_video_predictor("demo").model, shipped)
        session = TrackingSession.from_name(np.zeros((2, 32, 32), np.uint8), "demo")
    assert _same_weights(session.model, shipped)


def test_official_name_without_checkpoint_uses_the_local_file_or_says_how_to_get_it(
    tmp_path, tiny_state, monkeypatch
):
    from napari_sam2 import weights

    # the test's own empty cache (conftest): no file, and no download is tried
    with pytest.raises(weights.WeightsError) as info:
        build_sam2("sam2.1_hiera_tiny", image_size=256)
    text = str(info.value)
    assert "no checkpoint for sam2.1_hiera_tiny on this machine" in text
    assert "napari-sam2 weights download sam2.1_hiera_tiny" in text and 'checkpoint="auto"' in text
    assert "checkpoint=None builds random weights" in text and weights.OFFLINE_ENV in text
    # a file in the offline folder is used as it is
    offline = tmp_path / "offline"
    offline.mkdir()
    torch.save({"model": tiny_state}, offline / "sam2.1_hiera_tiny.pt")
    monkeypatch.setenv(weights.OFFLINE_ENV, str(offline))
    with pytest.warns(QualityWarning, match="1024"):  # 256 px: far from the trained size
        assert _same_weights(build_sam2("sam2.1_hiera_tiny", image_size=256), tiny_state)


def test_random_weights_only_when_asked_and_then_warned():
    frames = np.zeros((2, 32, 32), np.uint8)
    with pytest.warns(RandomWeightsWarning, match="random weights .*meaningless"):
        build_sam2("demo", checkpoint=None)
    with pytest.warns(RandomWeightsWarning, match="meaningless"):
        build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=None, image_size=64)
    with pytest.warns(RandomWeightsWarning, match="meaningless"):
        TrackingSession.from_name(frames, "demo", checkpoint=None)


# --------------------------------------------------------------- input size far from the trained size


def _quality_warnings(**kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_sam2("demo", **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, QualityWarning)]


def test_image_size_far_from_the_trained_size_is_named():
    # measured with the demo (trained at 256), docs/weights.md: 192-352 px track as well as 256
    for size in (192, 256, 320, 352):
        assert _quality_warnings(image_size=size) == [], size
    for size in (128, 160, 384, 512):
        found = _quality_warnings(image_size=size)
        assert (
            len(found) == 1
            and "trained at" in found[0]
            and "use 256 (image_size=256, CLI --image-size 256)" in found[0]
        ), (size, found)
    assert (
        get_config("demo").trained_image_size == 256 and not get_config("demo").trained_on_grey
    )  # v2 saw colour
    official = get_config("sam2.1_hiera_large").with_image_size(512)
    assert official.trained_image_size == 1024 and not official.trained_on_grey
    assert "1024" in official.image_size_advice() and "736-1408" in official.image_size_advice()
    # random weights mean nothing at any size: only the random-weights warning
    found = _quality_warnings(image_size=128, checkpoint=None)
    assert len(found) == 1 and "random weights" in found[0]


def test_random_bytes_are_not_called_code(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(
        CheckpointError, match="noise.pt is not a PyTorch checkpoint: it is neither a zip"
    ) as info:
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert "code" not in str(info.value)
    path.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
    )  # an LFS pointer instead of the file
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
