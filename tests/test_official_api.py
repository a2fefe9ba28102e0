"""The official SAM 2 Python API on this package: builder arguments and names, the default device,
the inference state's keys, and from_pretrained against a loopback server (127.0.0.1 only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import oracle
from loopback import Server
from napari_sam2 import build_sam2_video_predictor, weights
from napari_sam2.build_sam import build_sam2
from napari_sam2.loading import official_settings, resolve_device
from napari_sam2.model import build_model, get_config
from napari_sam2.notices import RandomWeightsWarning

NAME = "sam2.1_hiera_tiny"
CFG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SIZE = ["++model.image_size=128"]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    """Random sam2.1 tiny weights in the official format, named as the official file."""
    torch.manual_seed(3)
    state = build_model(get_config(NAME).with_image_size(128)).state_dict()
    path = tmp_path_factory.mktemp("www") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": state}, path)
    return path, state


def _same_weights(model, state) -> bool:
    own = model.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)


# ---------------------------------------------------------------- builder names and arguments


def test_every_official_config_name_and_path_is_its_model():
    for name, path in oracle.OFFICIAL_CONFIG.items():  # configs/sam2.1/sam2.1_hiera_b+.yaml, ...
        short = path.rsplit("/", 1)[-1]
        for given in (path, short, short.removesuffix(".yaml"), path.replace("/", "\\"), name):
            assert get_config(given).name == name, given
    with pytest.raises(ValueError, match="unknown model 'configs/sam3/sam3_hiera_t.yaml'"):
        get_config("configs/sam3/sam3_hiera_t.yaml")


def test_official_argument_order_and_keywords(tiny_file):
    path, state = tiny_file
    # build_sam2(config_file, ckpt_path, device, mode, hydra_overrides_extra, apply_postprocessing)
    model = build_sam2(CFG, path, "cpu", "eval", SIZE, True)
    assert _same_weights(model, state) and model.image_size == 128 and not model.training
    model = build_sam2(
        config_file=CFG,
        ckpt_path=str(path),
        device=torch.device("cpu"),
        mode="train",
        hydra_overrides_extra=SIZE,
    )
    assert _same_weights(model, state) and model.training
    assert _same_weights(build_sam2(NAME, checkpoint=path, image_size=128), state)  # our own form
    with pytest.warns(RandomWeightsWarning):  # the official default: no checkpoint file
        build_sam2_video_predictor(config_file=CFG, ckpt_path=None, hydra_overrides_extra=SIZE)
    with pytest.raises(TypeError, match="model is given twice"):
        build_sam2(NAME, config_file=CFG)
    with pytest.raises(TypeError, match="checkpoint is given twice"):
        build_sam2(CFG, checkpoint=path, ckpt_path=path)
    with pytest.raises(ValueError, match="mode must be 'eval' or 'train', got 'predict'"):
        build_sam2(CFG, path, mode="predict")


def test_overrides_that_mean_something_here():
    for text in ("++model.image_size=512", "+model.image_size=512", "model.image_size = 512"):
        assert official_settings([text]).image_size == 512
    off = official_settings(
        [
            "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=True",
            "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.9",
        ],
        apply_postprocessing=False,
    )
    assert off.decoder == {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.9,
    }
    # apply_postprocessing sets its keys after the overrides, as the official builder does
    on = official_settings(
        ["++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=false"]
    )
    assert on.decoder["dynamic_multimask_via_stability"] is True and on.config == {
        "binarize_mask_from_pts_for_mem_enc": False
    }
    video = official_settings(
        ["++model.fill_hole_area=3", "++model.non_overlap_masks=true"],
        video=True,
        apply_postprocessing=False,
    )
    assert video.predictor == {"fill_hole_area": 3, "non_overlap_masks": True}
    assert official_settings(["++model.fill_hole_area=3"], video=True).predictor == {
        "fill_hole_area": 8
    }
    predictor = build_sam2_video_predictor(
        CFG,
        None,
        hydra_overrides_extra=SIZE + ["++model.fill_hole_area=3"],
        apply_postprocessing=False,
        non_overlap_masks=True,
    )
    assert (predictor.fill_hole_area, predictor.non_overlap_masks) == (3, True)
    assert not predictor.model.cfg.binarize_mask_from_pts_for_mem_enc


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (
            ["++model.num_maskmem=3"],
            ValueError,
            r"hydra override '\+\+model.num_maskmem=3' is not supported here",
        ),
        (["++trainer.max_epochs=3"], ValueError, "'\\+\\+trainer.max_epochs=3' is not supported"),
        (["~model.image_size"], ValueError, "'~model.image_size' is not supported"),
        (
            ["++model.fill_hole_area=3"],
            ValueError,
            "video predictor's options only in build_sam2_video_predictor",
        ),
        (["++model.image_size=big"], ValueError, "'big' is not a int"),
        (["++model.binarize_mask_from_pts_for_mem_enc=yes"], ValueError, "'yes' is not a bool"),
        ("++model.image_size=512", TypeError, "must be a list of strings"),
    ],
)
def test_other_overrides_are_refused_by_name(overrides, error, message):
    with pytest.raises(error, match=message):
        build_sam2(CFG, None, hydra_overrides_extra=overrides)


def test_image_size_given_twice_must_agree():
    with pytest.raises(
        ValueError, match="image_size=256 but hydra_overrides_extra sets model.image_size=128"
    ):
        build_sam2(CFG, None, hydra_overrides_extra=SIZE, image_size=256)


def _official_settings_of(model, predictor=None) -> dict:
    decoder = model.sam_mask_decoder  # ours names two of its attributes more shortly
    found = {
        "image_size": model.image_size,
        "stability": (
            decoder.dynamic_multimask_via_stability,
            getattr(
                decoder, "dynamic_multimask_stability_delta", getattr(decoder, "stability_delta", 0)
            ),
            getattr(
                decoder,
                "dynamic_multimask_stability_thresh",
                getattr(decoder, "stability_thresh", 0),
            ),
        ),
        "binarize": getattr(model, "cfg", model).binarize_mask_from_pts_for_mem_enc,
    }
    if predictor is not None:
        found.update(
            (key, getattr(predictor, key))
            for key in (
                "fill_hole_area",
                "non_overlap_masks",
                "clear_non_cond_mem_around_input",
                "add_all_frames_to_correct_as_cond",
            )
        )
    return found


@pytest.mark.oracle
@pytest.mark.parametrize(
    "video, apply_postprocessing, overrides",
    [
        (False, True, []),
        (
            False,
            False,
            [
                "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.1",
                "++model.binarize_mask_from_pts_for_mem_enc=true",
            ],
        ),
        (True, True, ["++model.fill_hole_area=3", "+model.add_all_frames_to_correct_as_cond=true"]),
        (
            True,
            False,
            [
                "+model.fill_hole_area=3",
                "++model.clear_non_cond_mem_around_input=True",
                "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
            ],
        ),
    ],
)
def test_builder_settings_match_the_official_builders(video, apply_postprocessing, overrides):
    """The same builder arguments give the same settings as the official builders make from them."""
    sam2 = oracle.official()
    kwargs = dict(hydra_overrides_extra=SIZE + overrides, apply_postprocessing=apply_postprocessing)
    if video:
        theirs = sam2.build_sam.build_sam2_video_predictor(CFG, None, device="cpu", **kwargs)
        ours = build_sam2_video_predictor(CFG, None, device="cpu", **kwargs)
        assert _official_settings_of(ours.model, ours) == _official_settings_of(theirs, theirs)
    else:
        theirs = sam2.build_sam.build_sam2(CFG, None, device="cpu", **kwargs)
        ours = build_sam2(CFG, None, device="cpu", **kwargs)
        assert _official_settings_of(ours) == _official_settings_of(theirs)


# ---------------------------------------------------------------- the default device


def test_default_device_is_the_cpu_and_says_so_when_cuda_is_unused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device(None) == "cpu"
        assert resolve_device("auto") in ("cpu", "mps")
        assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.warns(
        UserWarning, match="runs on the CPU, the default here, although CUDA is available"
    ):
        assert resolve_device(None) == "cpu"
    assert resolve_device("auto") == "cuda"


# ---------------------------------------------------------------- the inference state


def test_inference_state_reads_like_the_official_dict():
    predictor = build_sam2_video_predictor(
        CFG, None, hydra_overrides_extra=["++model.image_size=64"]
    )
    frames = np.random.default_rng(0).integers(0, 255, (3, 40, 50), dtype=np.uint8)
    runs = []
    for offload in (False, True):
        state = predictor.init_state(
            video_path=frames,
            offload_video_to_cpu=offload,
            offload_state_to_cpu=offload,
            async_loading_frames=offload,
        )
        assert (
            state["num_frames"],
            state["video_height"],
            state["video_width"],
            state["obj_ids"],
        ) == (3, 40, 50, [])
        predictor.add_new_points_or_box(state, frame_idx=1, obj_id=7, points=[[20, 20]], labels=[1])
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id="b", box=[5, 5, 30, 25])
        assert state["obj_ids"] == [7, "b"] and state["obj_id_to_idx"] == {7: 0, "b": 1}
        assert (
            state["obj_idx_to_id"] == {0: 7, 1: "b"}
            and "num_frames" in state
            and "nope" not in state
        )
        assert state["offload_state_to_cpu"] is offload and state["storage_device"] == torch.device(
            "cpu"
        )
        assert len(state["images"]) == 3 and state["images"][0].shape == (3, 64, 64)
        assert state.get("nope", 5) == 5 and set(state.keys()) >= {
            "num_frames",
            "obj_ids",
            "output_dict_per_obj",
        }
        runs.append([masks for _, _, masks in predictor.propagate_in_video(state)])
    assert all(torch.equal(a, b) for a, b in zip(*runs))  # on a CPU, offloading changes nothing
    with pytest.raises(
        KeyError,
        match="'cached_features': this inference state gives read access to images, num_frames",
    ):
        state["cached_features"]


# ---------------------------------------------------------------- from_pretrained


@pytest.fixture
def served(tmp_path, tiny_file, monkeypatch):
    server = Server(tiny_file[0].parent)
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(weights.MIRROR_ENV, server.url)
    yield server
    server.stop()


def test_from_pretrained_downloads_once_checked_then_uses_the_cache(served, tiny_file):
    from napari_sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from napari_sam2.sam2_image_predictor import SAM2ImagePredictor
    from napari_sam2.sam2_video_predictor import SAM2VideoPredictor

    state = tiny_file[1]
    image = SAM2ImagePredictor.from_pretrained(
        "facebook/sam2.1-hiera-tiny", image_size=128, device="cpu", mask_threshold=0.5
    )
    assert (
        _same_weights(image.model, state)
        and image.mask_threshold == 0.5
        and image.model.image_size == 128
    )
    assert served.requests == 1
    served.stop()  # from here on the cache serves
    video = SAM2VideoPredictor.from_pretrained(
        "facebook/sam2.1-hiera-tiny", image_size=128, fill_hole_area=2
    )
    assert _same_weights(video.model, state) and video.fill_hole_area == 2
    assert video.model.cfg.binarize_mask_from_pts_for_mem_enc  # the video builder's settings
    generator = SAM2AutomaticMaskGenerator.from_pretrained(
        "facebook/sam2.1-hiera-tiny", image_size=128, apply_postprocessing=False, points_per_side=4
    )
    assert _same_weights(generator.predictor.model, state) and len(generator.point_grids[0]) == 16
    assert not generator.predictor.model.sam_mask_decoder.dynamic_multimask_via_stability
    with pytest.raises(TypeError, match="unexpected keyword argument 'points_per_sid'"):
        SAM2AutomaticMaskGenerator.from_pretrained(
            "facebook/sam2.1-hiera-tiny", image_size=128, points_per_sid=4
        )


def test_from_pretrained_offline_and_unknown_ids_say_what_to_do(monkeypatch):
    import pooch.core

    from napari_sam2.sam2_image_predictor import SAM2ImagePredictor

    # conftest: an empty cache and a mirror where nothing listens; the retries need not wait
    monkeypatch.setattr(pooch.core.time, "sleep", lambda seconds: None)
    with pytest.raises(weights.WeightsError) as info:
        SAM2ImagePredictor.from_pretrained("facebook/sam2-hiera-small")
    text = str(info.value)
    assert text.startswith(
        "from_pretrained('facebook/sam2-hiera-small'): could not download sam2_hiera_small"
    )
    assert "sam2_hiera_small.pt" in text and weights.OFFLINE_ENV in text
    with pytest.raises(
        weights.WeightsError,
        match="unknown model id 'facebook/sam3-hiera-tiny'.*facebook/sam2.1-hiera-base-plus",
    ):
        SAM2ImagePredictor.from_pretrained("facebook/sam3-hiera-tiny")
    assert weights.hub_model("facebook/sam2.1-hiera-base-plus") == "sam2.1_hiera_base_plus"
    assert len(weights.HUB_IDS) == 8
