"""Checkpoint loading: official format, strict keys, and refusal of anything but tensors."""

from __future__ import annotations

import pickle

import pytest
import torch

from napari_sam2 import CheckpointError, build_sam2
from napari_sam2.model import build_model, get_config


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
    with pytest.raises(CheckpointError, match="refusing to load"):
        build_sam2("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert not marker.exists()


def test_raw_pickle_is_refused(tmp_path):
    path = tmp_path / "raw.pt"
    with open(path, "wb") as fh:
        pickle.dump({"model": _Payload(str(tmp_path / "x"))}, fh)
    with pytest.raises(CheckpointError):
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
