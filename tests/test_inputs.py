"""Input handling of the image predictor: intensity mapping and clear errors for bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from napari_sam2 import SAM2ImagePredictor, build_sam2
from napari_sam2.predictor.preprocess import to_model_input, to_unit_rgb


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return SAM2ImagePredictor(build_sam2("sam2.1_hiera_tiny", checkpoint=None, image_size=256))


@pytest.fixture
def ready(predictor, rgb_image):
    predictor.set_image(rgb_image)
    return predictor


def test_uint8_grey_is_the_same_as_its_rgb(predictor):
    grey = np.random.default_rng(1).integers(0, 256, (64, 80), dtype=np.uint8)
    predictor.set_image(grey)
    a = predictor.get_image_embedding().clone()
    predictor.set_image(np.repeat(grey[..., None], 3, axis=-1))
    b = predictor.get_image_embedding()
    predictor.set_image(grey[..., None])
    c = predictor.get_image_embedding()
    assert torch.equal(a, b) and torch.equal(a, c)


def test_uint16_with_full_range_limits_matches_uint8():
    grey8 = np.random.default_rng(2).integers(0, 256, (40, 50), dtype=np.uint8)
    grey16 = grey8.astype(np.uint16) * 257
    a = to_unit_rgb(grey8)
    b = to_unit_rgb(grey16, contrast_limits=(0, 65535))
    assert torch.allclose(a, b, atol=1e-6)


def test_16bit_default_mapping_uses_robust_percentiles():
    rng = np.random.default_rng(3)
    img = rng.normal(1000, 50, (100, 100)).astype(np.uint16)
    img[0, 0] = 65000  # one hot pixel must not squash the contrast
    unit = to_unit_rgb(img)[0].numpy()
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert 0.3 < np.median(unit) < 0.7
    lo, hi = np.percentile(img, (0.1, 99.9))
    expected = np.clip((img.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo), 0, 1)
    assert np.allclose(unit, expected, atol=1e-6)


def test_explicit_contrast_limits_and_float_input():
    img = np.linspace(-1.0, 3.0, 400, dtype=np.float32).reshape(20, 20)
    unit = to_unit_rgb(img, contrast_limits=(0.0, 2.0))[0].numpy()
    assert np.allclose(unit, np.clip(img / 2.0, 0, 1), atol=1e-6)


def test_constant_image_does_not_divide_by_zero():
    unit = to_unit_rgb(np.full((10, 10), 7, np.uint16))
    assert torch.isfinite(unit).all() and unit.max() == 0


def test_model_input_is_standardised():
    x = to_model_input(torch.ones(3, 10, 20) * 0.485, 64)
    assert x.shape == (1, 3, 64, 64)
    assert torch.allclose(x[0, 0], torch.zeros(64, 64), atol=1e-6)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(10), "must have shape"),
        (np.zeros((2, 10, 10, 3)), "must have shape"),
        (np.zeros((10, 10, 2)), "must have shape"),
        (np.zeros((0, 10)), "empty"),
        (np.zeros((10, 10), bool), "dtype bool"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
    ],
)
def test_bad_images_are_refused(predictor, bad, message):
    with pytest.raises(ValueError, match=message):
        predictor.set_image(bad)


def test_bad_contrast_limits(predictor):
    with pytest.raises(ValueError, match="contrast_limits"):
        predictor.set_image(np.zeros((8, 8), np.uint16), contrast_limits=(5, 1))


def test_predict_before_set_image():
    p = SAM2ImagePredictor(build_sam2("sam2.1_hiera_tiny", checkpoint=None, image_size=256))
    with pytest.raises(RuntimeError, match="set_image"):
        p.predict(point_coords=np.array([[1.0, 1.0]]), point_labels=np.array([1]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(point_coords=[[500.0, 10.0]], point_labels=[1]),
            r"point \(x=500, y=10\) lies outside the 400x300 image",
        ),
        (dict(point_coords=[[10.0, -1.0]], point_labels=[1]), "outside"),
        (
            dict(point_coords=[[10.0, 10.0], [20.0, 20.0]], point_labels=[1]),
            "does not match 2 points",
        ),
        (dict(point_coords=[[10.0, 10.0]]), "given together"),
        (dict(point_coords=[[10.0, np.nan]], point_labels=[1]), "NaN"),
        (dict(point_coords=[[10.0, 10.0]], point_labels=[5]), "must be 1 .* or 0"),
        (dict(point_coords=np.zeros((0, 2)), point_labels=np.zeros(0)), "empty"),
        (dict(point_coords=[10.0, 10.0], point_labels=[1]), "shape"),
        (dict(), "no prompt"),
        (dict(box=[10.0, 10.0, 5.0, 50.0]), "x0 <= x1"),
        (dict(box=[10.0, 10.0, 50.0]), "box must have shape"),
        (dict(box=[10.0, 10.0, 450.0, 50.0]), "outside"),
        (dict(mask_input=np.zeros((1, 32, 32))), r"mask_input must have shape \(1, 64, 64\)"),
        (dict(point_coords=[[0.5, 2.0]], point_labels=[1], normalize_coords=False), r"\[0, 1\]"),
    ],
)
def test_bad_prompts_are_refused(ready, kwargs, message):
    kwargs = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        ready.predict(**kwargs)


def test_outputs_have_official_shapes(ready):
    masks, scores, logits = ready.predict(
        point_coords=np.array([[180.0, 140.0]]), point_labels=np.array([1])
    )
    assert masks.shape == (3, 300, 400) and masks.dtype == bool
    assert scores.shape == (3,) and logits.shape == (3, 64, 64)
    masks, scores, logits = ready.predict(
        box=np.array([[10.0, 10, 100, 100], [200, 100, 300, 200]]), multimask_output=False
    )
    assert masks.shape == (2, 1, 300, 400) and scores.shape == (2, 1)


def test_normalized_coordinates_equal_pixel_coordinates(ready):
    a = ready.predict(
        point_coords=np.array([[100.0, 150.0]]), point_labels=np.array([1]), return_logits=True
    )
    b = ready.predict(
        point_coords=np.array([[0.25, 0.5]]),
        point_labels=np.array([1]),
        return_logits=True,
        normalize_coords=False,
    )
    assert np.allclose(a[0], b[0], atol=1e-5)


# --------------------------------------------------------------- channels and colour


def test_channel_picks_or_converts_and_bad_channels_name_the_shape(predictor, rgb_image):
    from napari_sam2.predictor.preprocess import LUMA_WEIGHTS

    predictor.set_image(rgb_image, channel=1)
    one = predictor.get_image_embedding().clone()
    predictor.set_image(rgb_image[..., 1])
    assert torch.equal(one, predictor.get_image_embedding())
    # grey: the luminance, as float (so it gets a contrast window like any non-uint8 data)
    luminance = (rgb_image.astype(np.float64) @ np.array(LUMA_WEIGHTS)).astype(np.float32)
    predictor.set_image(rgb_image, channel="grey")
    grey = predictor.get_image_embedding().clone()
    predictor.set_image(luminance)
    assert torch.allclose(grey, predictor.get_image_embedding(), atol=1e-5)
    with pytest.raises(
        ValueError, match=r"channel 5 does not exist: image of shape \(300, 400, 3\) has 3"
    ):
        predictor.set_image(rgb_image, channel=5)
    with pytest.raises(
        ValueError, match=r"channel 0 given, but image of shape \(300, 400\) has no channel axis"
    ):
        predictor.set_image(rgb_image[..., 0], channel=0)
    with pytest.raises(ValueError, match="channel number or 'grey'"):
        predictor.set_image(rgb_image, channel="red")


def test_colour_to_a_grey_trained_model_is_named(rgb_image):
    from napari_sam2.notices import QualityWarning

    from dataclasses import replace

    model = build_sam2("demo")  # demo v2 saw colour: a grey-trained model is the demo marked as one
    model.cfg = replace(model.cfg, trained_on_grey=True)
    demo = SAM2ImagePredictor(model)
    with pytest.warns(QualityWarning, match=r"trained on grey frames only.*channel='grey'"):
        demo.set_image(rgb_image)
    grey_as_rgb = np.repeat(rgb_image[..., :1], 3, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QualityWarning)
        demo.set_image(rgb_image, channel="grey")
        demo.set_image(grey_as_rgb)  # three equal channels are grey
        demo.set_image(rgb_image[..., 0])
