"""Training parts: loss, simulated prompts, clips, trainable parts, checkpoints, the finetune command."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2 import build_sam2
from napari_sam2.cli import main
from napari_sam2.loading import CheckpointError, infer_model_name
from napari_sam2.model.build import build_model
from napari_sam2.model.configs import CONFIGS, DEMO, get_config
from napari_sam2.predictor.frames import FrameSource
from napari_sam2.synthetic import synthetic_cells, synthetic_microscopy
from napari_sam2.train import loss as L
from napari_sam2.train.data import ClipSampler, check_pair, make_clip
from napari_sam2.train.prompts import correction_points, noisy_boxes, random_points
from napari_sam2.train.trainer import (
    Stage,
    TrainConfig,
    finetune,
    save_checkpoint,
    select_parts,
    train,
)


def _disc(s=32, r=8, cy=16, cx=16):
    yy, xx = np.mgrid[:s, :s]
    return torch.from_numpy((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)


def test_loss_prefers_the_right_mask_and_trains_the_best_candidate_only():
    target = _disc()[None]
    good = torch.where(target, 8.0, -8.0)
    bad = -good
    multi = torch.stack([bad, good, torch.zeros_like(good)], dim=1).float()  # (1, 3, H, W)
    multi.requires_grad_(True)
    parts = L.step_loss(multi, torch.tensor([[0.0, 1.0, 0.5]]), torch.tensor([[5.0]]), target)
    assert parts["focal"] < 1e-3 and parts["dice"] < 1e-2  # the good candidate is the one trained
    L.total({k: parts[k] for k in ("focal", "dice")}).backward()
    grads = multi.grad.flatten(2).abs().sum(-1)[0]
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0
    # the IoU head is trained on all candidates: here they are right for 0 and 1, off by 0.5 for the third
    true_third = L.true_iou(torch.zeros(1, 1, 32, 32), target[:, None].float())
    assert torch.isclose(parts["iou"], (0.5 - true_third[0, 0]).abs() / 3, atol=1e-6)


def test_loss_on_an_absent_object_is_the_object_score_only():
    empty = torch.zeros(1, 32, 32, dtype=torch.bool)
    multi = torch.randn(1, 3, 32, 32)
    parts = L.step_loss(multi, torch.rand(1, 3), torch.tensor([[2.0]]), empty)
    assert parts["focal"] == 0 and parts["dice"] == 0 and parts["iou"] == 0
    assert torch.isclose(parts["score"], torch.nn.functional.softplus(torch.tensor(2.0)))


def test_focal_loss_matches_its_definition():
    logits, target = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    p = torch.sigmoid(logits)
    expected = (0.25 * -torch.log(p) * (1 - p) ** 2).mean()
    assert torch.isclose(L.focal_loss(logits[None, None], target[None, None])[0], expected)


def test_simulated_prompts_land_where_they_should():
    gen = torch.Generator().manual_seed(0)
    masks = torch.stack([_disc(r=5, cy=10, cx=20), _disc(r=7, cy=20, cx=9)])
    for _ in range(20):
        xy = random_points(masks, gen)[:, 0].long()
        assert masks[0, xy[0, 1], xy[0, 0]] and masks[1, xy[1, 1], xy[1, 0]]
        neg = random_points(masks, gen, positive=False)[:, 0].long()
        assert not masks[0, neg[0, 1], neg[0, 0]]
    box = noisy_boxes(masks, gen, noise=0.0)
    assert box[0].tolist() == [
        [15.0, 5.0],
        [26.0, 16.0],
    ]  # x0, y0 / x1, y1 (exclusive end) of disc 0
    pred = masks.clone()
    pred[0] = False  # object 0 missed entirely
    pred[1, :3, :3] = True  # object 1 has a false corner
    xy, lab = correction_points(pred, masks, gen)
    x, y = xy[:, 0].long().unbind(-1)
    assert lab[0, 0] == 1 and masks[0, y[0], x[0]]  # positive click on the missed cell
    assert lab[1, 0] == 0 and pred[1, y[1], x[1]] and not masks[1, y[1], x[1]]


def test_clip_is_preprocessed_like_inference_and_masks_follow_the_labels():
    image, labels = synthetic_cells(n_frames=6, size=(64, 64), n_cells=2, seed=3)
    clip = make_clip(
        image, labels, 64, np.random.default_rng(0), length=6, max_objects=5, crop=(1.0, 1.0)
    )
    assert clip.frames.shape == (6, 3, 64, 64) and clip.masks.shape[:2] == (6, 2)
    # the clip is the movie (forwards or backwards, turned and/or flipped) through the inference preprocessing
    source = FrameSource(image, 64)
    movie = torch.stack([source[i] for i in range(6)])

    def view(x, k, flip):  # the same turn/flip on (..., H, W)
        x = torch.rot90(x, k, (-2, -1))
        return x.flip(-1) if flip else x

    matches = [
        (order, k, flip)
        for order in (range(6), range(5, -1, -1))
        for k in range(4)
        for flip in (False, True)
        if float((view(movie[list(order)], k, flip) - clip.frames).abs().max()) < 1e-5
    ]
    assert len(matches) >= 1
    order, k, flip = matches[0]
    truth = view(torch.from_numpy(labels[list(order)].astype(np.int64)), k, flip)
    for j in range(2):  # each object's masks are one label's region in every frame
        ids = torch.unique(truth[clip.masks[:, j]])
        assert len(ids) == 1 and ids.item() > 0
        assert torch.equal(clip.masks[:, j], truth == ids.item())


@pytest.mark.parametrize(
    "image, labels, message",
    [
        (np.zeros((3, 8, 8)), np.zeros((3, 8, 9), np.uint16), "do not match"),
        (np.zeros((3, 8, 8)), np.zeros((3, 8, 8), np.uint16), "all zero"),
        (np.full((3, 8, 8), np.nan), np.ones((3, 8, 8), np.uint16), "NaN"),
        (np.zeros((3, 8, 8)), np.ones((3, 8, 8), np.float32), "integers"),
    ],
)
def test_bad_training_pairs_are_named(image, labels, message):
    with pytest.raises(ValueError, match=message):
        check_pair(image, labels)


def test_generator_makes_varied_movies_with_exact_labels():
    movies = [synthetic_microscopy(n_frames=10, size=(96, 96), seed=s) for s in range(6)]
    for image, labels, parents in movies:
        assert image.dtype == np.uint16 and labels.shape == image.shape
        for daughter, parent in parents.items():  # a daughter appears only after its parent is gone
            first = min(t for t in range(10) if (labels[t] == daughter).any())
            assert not (labels[first:] == parent).any()
    backgrounds = [np.median(image) for image, _, _ in movies]
    assert max(backgrounds) > 2 * min(backgrounds)  # imaging conditions differ between seeds
    # cells on the labels are brighter than the background around them
    image, labels, _ = movies[0]
    assert image[labels > 0].mean() > image[labels == 0].mean()
    again = synthetic_microscopy(n_frames=10, size=(96, 96), seed=0)
    assert np.array_equal(again[0], movies[0][0]) and np.array_equal(again[1], movies[0][1])


def _tiny_pairs(n_cells=2):
    image, labels = synthetic_cells(
        n_frames=4, size=(64, 64), n_cells=n_cells, seed=1, radius=(8.0, 12.0)
    )
    return [(image, labels)]


def _demo_like(image_size=64):
    torch.manual_seed(0)
    return build_model(get_config(DEMO).with_image_size(image_size))


def test_frozen_parts_stay_unchanged():
    model = _demo_like()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(stages=[Stage(2, 2, 1)], lr=1e-3, parts=("mask_decoder",), warmup=1)
    finetune(model, _tiny_pairs(), cfg)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("sam_mask_decoder.") for k in changed)
    assert all(p.requires_grad for p in model.parameters())  # restored for later use
    with pytest.raises(ValueError, match="parts to train"):
        select_parts(model, ("decoder",))


def test_training_fits_a_clip():
    """A small model learns one movie: the loss falls and the mask tracked to the next frame covers the cell."""
    model = _demo_like(128)
    sampler = ClipSampler(128, pairs=_tiny_pairs(n_cells=1), seed=0)
    cfg = TrainConfig(
        stages=[Stage(80, 2, 2)],
        lr=2e-3,
        warmup=5,
        corrections=0,
        focal_alpha=-1.0,
        loss_weights={"focal": 20.0, "dice": 5.0, "iou": 1.0, "score": 1.0},
    )
    history = train(model, sampler, cfg)
    first = np.mean([r["loss"] for r in history[:5]])
    last = np.mean([r["loss"] for r in history[-5:]])
    assert last < 0.5 * first
    assert np.mean([r["iou_last"] for r in history[-10:]]) > 0.6


def test_checkpoint_round_trip_in_the_official_layout(tmp_path):
    model = _demo_like()
    path = save_checkpoint(model, tmp_path / "m.pt")
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"model"} and set(raw["model"]) == set(model.state_dict())
    loaded = build_sam2(
        "auto", checkpoint=path, image_size=64
    )  # the model is recognised from the file
    assert loaded.cfg.name == DEMO
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values())
    )


def test_every_model_is_recognised_from_its_weights():
    for name, cfg in CONFIGS.items():
        if "large" in name or "base_plus" in name:
            continue  # same rule; building them is slow
        assert infer_model_name(build_model(cfg).state_dict()) == name
    with pytest.raises(CheckpointError, match="not a SAM 2 checkpoint"):
        infer_model_name({"weight": torch.zeros(2)})


def test_finetune_command(tmp_path, capsys):
    ((image, labels),) = _tiny_pairs()
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    start = tmp_path / "start.pt"
    save_checkpoint(_demo_like(), start)
    out = tmp_path / "tuned.pt"
    args = [
        "finetune",
        str(tmp_path / "img.tif"),
        str(tmp_path / "lab.tif"),
        "--checkpoint",
        str(start),
        "--image-size",
        "64",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--clip-len",
        "2",
        "--clips",
        "1",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    text = capsys.readouterr()
    assert "4 steps" in text.err and f"--model {DEMO}" in text.out
    tuned = build_sam2(DEMO, checkpoint=out, image_size=64)
    base = build_sam2(DEMO, checkpoint=start, image_size=64)
    dec = [k for k in tuned.state_dict() if k.startswith("sam_mask_decoder.")]
    enc = [k for k in tuned.state_dict() if k.startswith("image_encoder.")]
    assert any(not torch.equal(tuned.state_dict()[k], base.state_dict()[k]) for k in dec)
    assert all(
        torch.equal(tuned.state_dict()[k], base.state_dict()[k]) for k in enc
    )  # default: encoder frozen
    assert main(args) == 2 and "exists" in capsys.readouterr().err  # never overwritten silently
    assert (
        main(
            [
                "finetune",
                str(tmp_path / "img.tif"),
                str(tmp_path / "nothing*.tif"),
                "--out",
                str(tmp_path / "x.pt"),
            ]
        )
        == 2
    )
    assert "no files match" in capsys.readouterr().err


def test_stages_name_their_data():
    model = _demo_like()
    sampler = ClipSampler(64, pairs=_tiny_pairs(), seed=0)
    with pytest.raises(ValueError, match=r"stages draw from \['faint'\]"):
        train(model, {"main": sampler}, TrainConfig(stages=[Stage(1, 1, 1, data="faint")]))


def _touching(labels: np.ndarray) -> bool:
    """Whether two different labels are 4-neighbours somewhere in a (H, W) label image."""
    a, b = labels[:, :-1], labels[:, 1:]
    c, d = labels[:-1], labels[1:]
    return bool(((a != b) & (a > 0) & (b > 0)).any() or ((c != d) & (c > 0) & (d > 0)).any())


def test_phase_neighbours_trains_identity_parts_on_touching_lookalikes(tmp_path):
    from napari_sam2.train.demo.movies import tracking_movie
    from napari_sam2.train.demo.neighbours import neighbours_movie, pairs_movie
    from napari_sam2.train.demo.recipe import main as recipe
    from napari_sam2.weights import DEMO_FILE

    for seed in range(6):  # the pairs touch while they pass; every movie is one of two kinds
        image, labels = pairs_movie(seed)
        assert image.shape == labels.shape and image.shape[0] == 16
        assert labels.max() >= 2 and any(_touching(f) for f in labels)
    # three in five are pairs, the rest phase 2's movies (rehearsal)
    assert np.array_equal(neighbours_movie(7)[1], pairs_movie(7)[1])
    assert np.array_equal(neighbours_movie(8)[1], tracking_movie(8)[1])

    out = tmp_path / "nb.pt"
    shipped = torch.load(DEMO_FILE, map_location="cpu", weights_only=True)["model"]
    recipe(["--phase", "neighbours", "--resume", str(DEMO_FILE), "--out", str(out),
            "--steps", "2", "--threads", "1"])  # fmt: skip
    trained = torch.load(out, map_location="cpu", weights_only=True)["model"]
    changed = {k for k in shipped if not torch.equal(shipped[k], trained[k])}
    frozen = ("image_encoder.", "sam_prompt_encoder.")
    assert not {k for k in changed if k.startswith(frozen)}
    assert any(k.startswith("sam_mask_decoder.") for k in changed)
    assert any(k.startswith(("memory_attention.", "memory_encoder.")) for k in changed)
