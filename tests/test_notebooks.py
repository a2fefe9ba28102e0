"""The official notebooks' sequences of calls, run with only the import lines changed.

Each notebook (image predictor, video predictor, automatic mask generator) is replayed once as a
function of the names it imports. The names come from importing the notebook's own import lines,
``from sam2.<module> import <name>``, once as written and once with ``sam2.`` replaced by
``napari_sam2.`` (what a user does with ``sed``); both runs load the same official-format checkpoint
file and every value the notebook looks at is compared. The calls and arguments are the notebooks'
(written anew here), on small synthetic images, with one addition on both sides: an image-size
override that keeps the models small.

Where the official package cannot run on this CPU as it is, the official side alone gets the fix
that the other parity tests use (tests/oracle.py): the feature sizes of its image predictor for
the small input, stand-ins for torchvision and OpenCV, and float32 memory at the attention input.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image

import oracle
from napari_sam2.synthetic import synthetic_cells

pytestmark = pytest.mark.oracle
TOL = 1e-4

MODEL_CFG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SMALL = ["++model.image_size=128"]
DEVICE = torch.device("cpu")  # what the notebooks' device cell picks on a machine without a GPU
# the notebooks' import lines
IMPORTS = {
    "build_sam2": "sam2.build_sam",
    "build_sam2_video_predictor": "sam2.build_sam",
    "SAM2ImagePredictor": "sam2.sam2_image_predictor",
    "SAM2AutomaticMaskGenerator": "sam2.automatic_mask_generator",
}


def names(package: str) -> dict:
    """The notebooks' imported names from ``package``: "sam2", or "napari_sam2" (sed'ed)."""
    return {
        name: getattr(importlib.import_module(module.replace("sam2.", f"{package}.", 1)), name)
        for name, module in IMPORTS.items()
    }


class Notebook:
    """What one run of a notebook showed: ``(label, value)`` for every call, in order."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, object]] = []

    def show(self, label: str, value):
        self.shown.append((label, value))
        return value


def _numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return value


def assert_same_runs(official: Notebook, ours: Notebook) -> dict[str, float]:
    """Every shown value equal (numbers within TOL, binary masks identical); the largest
    difference per call."""
    assert [label for label, _ in ours.shown] == [label for label, _ in official.shown]
    deltas = {}
    for (label, a), (_, b) in zip(official.shown, ours.shown):
        deltas[label] = _compare(label, a, b)
    return deltas


def _compare(label: str, a, b) -> float:
    a, b = _numpy(a), _numpy(b)
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{label}: {b!r} vs {a!r}"
        return max(
            [_compare(f"{label}[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b))], default=0.0
        )
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{label}: keys {list(b)} vs {list(a)}"
        return max([_compare(f"{label}[{k!r}]", a[k], b[k]) for k in a], default=0.0)
    if isinstance(a, np.ndarray):
        b = np.asarray(b)
        assert a.shape == b.shape, f"{label}: shape {b.shape} vs {a.shape}"
        if b.dtype == bool:  # our binary masks are bool, the official ones float 0/1
            assert set(np.unique(a)) <= {0, 1}, f"{label}: not a binary mask"
            assert np.array_equal(a.astype(bool), b), (
                f"{label}: masks differ in {np.sum(a.astype(bool) != b)} px"
            )
            return 0.0
        delta = float(np.abs(a.astype(np.float64) - b).max()) if a.size else 0.0
        assert delta <= TOL, f"{label}: differs by {delta}"
        if label.endswith("logits"):
            assert np.array_equal(a > 0, b > 0), f"{label}: binary masks differ"
        return delta
    if isinstance(a, float):
        assert abs(a - b) <= TOL, f"{label}: {b} vs {a}"
        return abs(a - b)
    assert a == b, f"{label}: {b!r} vs {a!r}"
    return 0.0


# ---------------------------------------------------------------- the image predictor notebook


def image_notebook(api: dict, checkpoint, image, image2) -> Notebook:
    nb = Notebook()
    sam2_model = api["build_sam2"](
        MODEL_CFG, checkpoint, device=DEVICE, hydra_overrides_extra=SMALL
    )
    nb.show("build_sam2", sam2_model.image_size)
    predictor = api["SAM2ImagePredictor"](sam2_model)
    nb.show("SAM2ImagePredictor", predictor.model is sam2_model)
    predictor.set_image(image)
    nb.show("set_image: embedding", predictor._features["image_embed"])

    # one click, three candidates, sorted by score
    input_point, input_label = np.array([[180, 140]]), np.array([1])
    masks, scores, logits = predictor.predict(
        point_coords=input_point, point_labels=input_label, multimask_output=True
    )
    order = np.argsort(scores)[::-1]
    masks, scores, logits = masks[order], scores[order], logits[order]
    nb.show("predict one point: masks, scores, logits", [masks, scores, logits])

    # a second click with the best earlier mask as input
    mask_input = logits[np.argmax(scores), :, :]
    out = predictor.predict(
        point_coords=np.array([[180, 140], [220, 160]]),
        point_labels=np.array([1, 1]),
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )
    nb.show("predict two points + mask_input: masks, scores, logits", list(out))
    out = predictor.predict(
        point_coords=np.array([[180, 140], [300, 40]]),
        point_labels=np.array([1, 0]),
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )
    nb.show("predict positive + negative point: masks, scores, logits", list(out))

    input_box = np.array([110, 70, 260, 215])
    out = predictor.predict(
        point_coords=None, point_labels=None, box=input_box[None, :], multimask_output=False
    )
    nb.show("predict box: masks, scores, logits", list(out))
    out = predictor.predict(
        point_coords=np.array([[240, 80]]),
        point_labels=np.array([0]),
        box=input_box,
        multimask_output=False,
    )
    nb.show("predict box + negative point: masks, scores, logits", list(out))

    input_boxes = np.array(
        [[110, 70, 260, 215], [10, 10, 120, 90], [250, 150, 390, 290], [0, 0, 399, 299]]
    )
    masks, scores, _ = predictor.predict(
        point_coords=None, point_labels=None, box=input_boxes, multimask_output=False
    )
    nb.show("predict batched boxes: masks, scores", [masks, scores])

    # several images at once
    predictor.set_image_batch([image, image2])
    nb.show("set_image_batch: embeddings", predictor._features["image_embed"])
    boxes_batch = [
        np.array([[110, 70, 260, 215], [250, 150, 390, 290]]),
        np.array([[20, 30, 150, 120]]),
    ]
    masks_batch, scores_batch, _ = predictor.predict_batch(
        None, None, box_batch=boxes_batch, multimask_output=False
    )
    nb.show("predict_batch boxes: masks, scores", [masks_batch, scores_batch])
    pts_batch = [np.array([[[180, 140]], [[330, 250]]]), np.array([[[60, 70]], [[150, 100]]])]
    labels_batch = [np.array([[1], [1]]), np.array([[1], [1]])]
    masks_batch, scores_batch, _ = predictor.predict_batch(
        pts_batch, labels_batch, box_batch=None, multimask_output=True
    )
    best = [
        masks[range(len(masks)), np.argmax(scores, axis=-1)]
        for masks, scores in zip(masks_batch, scores_batch)
    ]
    nb.show("predict_batch points: masks, scores, best masks", [masks_batch, scores_batch, best])
    return nb


# ---------------------------------------------------------------- the video predictor notebook


def video_notebook(api: dict, checkpoint, video_dir) -> Notebook:
    nb = Notebook()
    predictor = api["build_sam2_video_predictor"](
        MODEL_CFG, checkpoint, device=DEVICE, hydra_overrides_extra=SMALL
    )
    nb.show("build_sam2_video_predictor", predictor.image_size)
    inference_state = predictor.init_state(video_path=str(video_dir))
    nb.show("init_state(video_path=...)", None)
    predictor.reset_state(inference_state)
    nb.show("reset_state", None)

    def segments(label: str):
        video_segments = {}
        for out_frame_idx, out_obj_ids, out_mask_logits in predictor.propagate_in_video(
            inference_state
        ):
            video_segments[out_frame_idx] = {
                obj_id: (out_mask_logits[i] > 0.0).cpu().numpy()
                for i, obj_id in enumerate(out_obj_ids)
            }
            nb.show(f"{label} frame {out_frame_idx}: logits", out_mask_logits)
        return nb.show(f"{label}: masks", video_segments)

    # example 1: one object, clicks, propagation, a correction on a tracked frame
    points, labels = np.array([[40, 30]], dtype=np.float32), np.array([1], np.int32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state, frame_idx=0, obj_id=1, points=points, labels=labels
    )
    nb.show(
        "add_new_points_or_box one click: obj ids, logits", [list(out_obj_ids), out_mask_logits]
    )
    points, labels = np.array([[40, 30], [48, 36]], dtype=np.float32), np.array([1, 1], np.int32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state, frame_idx=0, obj_id=1, points=points, labels=labels
    )
    nb.show(
        "add_new_points_or_box two clicks: obj ids, logits", [list(out_obj_ids), out_mask_logits]
    )
    segments("propagate_in_video")
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=3,
        obj_id=1,
        points=np.array([[90, 70]], dtype=np.float32),
        labels=np.array([0], np.int32),
    )
    nb.show("add_new_points_or_box correction on a tracked frame: logits", out_mask_logits)
    segments("propagate_in_video again")

    # example 2: a box, then the box with a click
    predictor.reset_state(inference_state)
    nb.show("reset_state before a box", None)
    box = np.array([20, 10, 70, 55], dtype=np.float32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state, frame_idx=0, obj_id=4, box=box
    )
    nb.show("add_new_points_or_box box: logits", out_mask_logits)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=0,
        obj_id=4,
        points=np.array([[30, 45]], dtype=np.float32),
        labels=np.array([1], np.int32),
        box=box,
    )
    nb.show("add_new_points_or_box box + click: logits", out_mask_logits)
    segments("propagate_in_video, box")

    # example 3: several objects at once
    predictor.reset_state(inference_state)
    nb.show("reset_state before two objects", None)
    prompts = {
        2: (np.array([[40, 30]], dtype=np.float32), np.array([1], np.int32)),
        3: (np.array([[100, 60], [95, 70]], dtype=np.float32), np.array([1, 0], np.int32)),
    }
    for obj_id, (points, labels) in prompts.items():
        _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
            inference_state=inference_state,
            frame_idx=0,
            obj_id=obj_id,
            points=points,
            labels=labels,
        )
        nb.show(
            f"add_new_points_or_box object {obj_id}: obj ids, logits",
            [list(out_obj_ids), out_mask_logits],
        )
    segments("propagate_in_video, two objects")
    # what user code reads from the state
    keys = ("num_frames", "video_height", "video_width", "obj_ids")
    nb.show("inference_state[...]", {key: inference_state[key] for key in keys})
    return nb


# ---------------------------------------------------------------- the automatic-mask notebook


def automatic_notebook(api: dict, checkpoint, image) -> Notebook:
    """The notebook's calls with smaller point grids than its 32 (the default) and 64 per side: on
    two CPU cores each grid point costs about 15 ms per package."""
    nb = Notebook()
    sam2 = api["build_sam2"](
        MODEL_CFG,
        checkpoint,
        device=DEVICE,
        apply_postprocessing=False,
        hydra_overrides_extra=SMALL,
    )
    nb.show("build_sam2(apply_postprocessing=False)", sam2.image_size)
    mask_generator = api["SAM2AutomaticMaskGenerator"](sam2, points_per_side=8)
    nb.show("SAM2AutomaticMaskGenerator", mask_generator.predictor.model is sam2)
    masks = mask_generator.generate(image)
    nb.show("generate: records", _records(masks))
    mask_generator_2 = api["SAM2AutomaticMaskGenerator"](
        model=sam2,
        points_per_side=6,
        points_per_batch=128,
        pred_iou_thresh=0.7,
        stability_score_thresh=0.92,
        stability_score_offset=0.7,
        crop_n_layers=1,
        box_nms_thresh=0.7,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=25.0,
        use_m2m=True,
    )
    nb.show(
        "SAM2AutomaticMaskGenerator with the notebook's options",
        mask_generator_2.predictor.model is sam2,
    )
    masks2 = mask_generator_2.generate(image)
    nb.show("generate with the notebook's options: records", _records(masks2))
    return nb


def _records(masks: list[dict]) -> list[dict]:
    """What the notebook looks at: the number of records, their keys, and the records by area."""
    by_area = sorted(masks, key=lambda ann: ann["area"], reverse=True)
    return [{key: ann[key] for key in sorted(ann)} for ann in by_area]


# ---------------------------------------------------------------- the two runs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Random sam2.1 tiny weights in the official format; the object head says "present" so that
    masks are real."""
    model = oracle.build_official("sam2.1_hiera_tiny", 256)
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(3.0)
    path = tmp_path_factory.mktemp("notebooks") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


@pytest.fixture
def official_names(monkeypatch):
    """The official names, with the CPU fixes of tests/oracle.py on the official side only."""
    oracle.official_mask_generator_class(monkeypatch)  # its imports' stand-ins first
    api = names("sam2")
    import sam2.sam2_video_predictor as svp
    import sam2.utils.misc

    # other tests hand the official video predictor ready tensors; this one reads the JPEG folder
    monkeypatch.setattr(svp, "load_video_frames", sam2.utils.misc.load_video_frames)
    image_predictor, generator = api["SAM2ImagePredictor"], api["SAM2AutomaticMaskGenerator"]

    def feature_sizes(model):
        s = model.image_size
        return [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]

    class ImagePredictor(image_predictor):
        def __init__(self, model, **kwargs):
            super().__init__(model, **kwargs)
            self._bb_feat_sizes = feature_sizes(model)

    class MaskGenerator(generator):
        def __init__(self, model, **kwargs):
            super().__init__(model, **kwargs)
            self.predictor._bb_feat_sizes = feature_sizes(model)

    build_video = api["build_sam2_video_predictor"]
    api.update(
        SAM2ImagePredictor=ImagePredictor,
        SAM2AutomaticMaskGenerator=MaskGenerator,
        build_sam2_video_predictor=lambda *a, **k: oracle.promote_memory_on_cpu(
            build_video(*a, **k)
        ),
    )
    return api


def _rgb_image(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 120, (*shape, 3), dtype=np.uint8)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img[(yy - shape[0] * 0.45) ** 2 + (xx - shape[1] * 0.45) ** 2 < (min(shape) / 5) ** 2] += 120
    return img


@pytest.mark.slow
def test_image_notebook(checkpoint, official_names):
    image, image2 = _rgb_image(0, (300, 400)), _rgb_image(1, (180, 240))
    theirs = image_notebook(official_names, checkpoint, image, image2)
    ours = image_notebook(names("napari_sam2"), checkpoint, image, image2)
    assert_same_runs(theirs, ours)
    assert len(ours.shown) == 12
    best = ours.shown[-1][1][2]
    assert all(m.any() for m in best), "the replay should give real masks"


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    """A folder of JPEG frames named as the official loader wants them (00000.jpg, ...)."""
    image, _ = synthetic_cells(n_frames=5, size=(96, 128), n_cells=3, seed=7)
    grey = (image.astype(np.float32) / image.max() * 255).astype(np.uint8)
    folder = tmp_path_factory.mktemp("video")
    for i, frame in enumerate(np.stack([grey, grey // 2 + 60, 255 - grey], axis=-1)):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg")
    return folder


@pytest.mark.slow
def test_video_notebook(checkpoint, official_names, video_dir):
    # the official state is a dict; the reads of user code are compared with what it holds
    theirs = video_notebook(official_names, checkpoint, video_dir)
    ours = video_notebook(names("napari_sam2"), checkpoint, video_dir)
    calls = [label for label, _ in assert_same_runs(theirs, ours).items() if " frame " not in label]
    assert len(calls) == 17, calls
    assert ours.shown[-1][1] == {
        "num_frames": 5,
        "video_height": 96,
        "video_width": 128,
        "obj_ids": [2, 3],
    }
    masks = [
        label_value for label_value in ours.shown if label_value[0] == "propagate_in_video: masks"
    ][0][1]
    assert sum(m[1].any() for m in masks.values()) >= 4, "the replay should track a real mask"


@pytest.mark.slow
def test_automatic_notebook(official_names, tmp_path):
    """The generator notebook on weights that give masks at its thresholds: sharp and varied mask
    logits (oracle.shape_mask_logits; the single-mask token shifted less, so that the masks that
    use_m2m refines stay non-empty) and high predicted IoUs."""
    model = oracle.build_official("sam2.1_hiera_tiny", 128)
    oracle.shape_mask_logits(model, 300.0, -55.0)
    with torch.no_grad():
        decoder = model.sam_mask_decoder
        decoder.iou_prediction_head.layers[-1].bias.fill_(5.0)
        decoder.output_hypernetworks_mlps[0].layers[-1].bias[0] = -10.0 / float(
            torch.nn.functional.gelu(torch.tensor(1.0))
        )
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": model.state_dict()}, path)
    image = _rgb_image(0, (120, 160))
    theirs = automatic_notebook(official_names, path, image)
    ours = automatic_notebook(names("napari_sam2"), path, image)
    assert_same_runs(theirs, ours)
    assert len(ours.shown) == 5
    assert len(ours.shown[2][1]) >= 2 and len(ours.shown[4][1]) >= 2, (
        "the replay should find several masks"
    )
