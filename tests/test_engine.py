"""The tracking engine: batching, corrections, directions, cancel, volumes, bounded memory, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import build_sam2_video_predictor
from napari_sam2.engine import TrackingSession, stack_view
from napari_sam2.synthetic import synthetic_cells

from conftest import attention_inputs, present_model

SIZE = 128


@pytest.fixture(scope="module")
def movie():
    return synthetic_cells(n_frames=12, size=(80, 96), n_cells=3, seed=5, radius=(7.0, 11.0))


@pytest.fixture(scope="module")
def model():
    return present_model(SIZE, seed=1)


def centre(labels, frame, obj):
    y, x = np.argwhere(labels[frame] == obj).mean(0)
    return [[float(x), float(y)]]


def snapshot(session):
    return {
        (o, f): r.logits.clone()
        for o, obj in session.objects.items()
        for f, r in obj.results.items()
    }


def official_and_session(image):
    """The official video predictor (with its state on ``image``) and our session, same weights."""
    import oracle
    from napari_sam2.predictor.frames import FrameSource

    off = oracle.build_official_video("sam2.1_hiera_tiny", SIZE, object_bias=3.0)
    ours = oracle.ours_video_like(off, "sam2.1_hiera_tiny")
    src = FrameSource(image, SIZE)
    state = off.init_state((torch.stack([src[i] for i in range(len(src))]), *image.shape[1:3]))
    return off, state, TrackingSession(ours.model, image, fill_hole_area=0)


@pytest.mark.oracle
def test_batched_engine_equals_official_per_object(movie):
    image, labels = movie
    off, state, session = official_and_session(image)
    ys, xs = np.nonzero(labels[5] == 2)
    prompts = [
        ("add_new_points_or_box", dict(obj_id=1, points=centre(labels, 5, 1), labels=[1])),
        ("add_new_points_or_box", dict(obj_id=2, box=[xs.min(), ys.min(), xs.max(), ys.max()])),
        ("add_new_mask", dict(obj_id=3, mask=labels[5] == 3)),
    ]
    for method, kw in prompts:
        getattr(off, method)(state, frame_idx=5, **kw)
    session.add_points(5, 1, centre(labels, 5, 1), [1])
    session.add_points(5, 2, box=[xs.min(), ys.min(), xs.max(), ys.max()])
    session.add_mask(5, 3, labels[5] == 3)
    official = {f: m for f, _, m in off.propagate_in_video(state)}
    official.update({f: m for f, _, m in off.propagate_in_video(state, reverse=True)})
    report = session.propagate("both")
    assert report.frames == list(range(5, 12)) + list(range(5, -1, -1))
    worst = 0.0
    for f in range(12):
        for i, obj in enumerate((1, 2, 3)):
            a, b = official[f][i, 0].numpy(), session.object_logits(f, obj)
            worst = max(worst, float(np.abs(a - b).max()))
            assert np.array_equal(a > 0, b > 0), (f, obj)
    assert worst <= 1e-4


def test_correction_equals_a_fresh_run_and_touches_nothing_else(model, movie):
    image, labels = movie
    a = TrackingSession(model, image)
    a.add_points(0, 1, centre(labels, 0, 1), [1])
    a.add_points(0, 2, centre(labels, 0, 2), [1])
    a.propagate()
    before = snapshot(a)
    fix = [[centre(labels, 6, 1)[0][0] + 2, centre(labels, 6, 1)[0][1]]]
    report = a.correct(6, 1, fix, [1])
    assert report.frames == list(range(7, 12))
    assert a.recomputed_memories > 0  # memories of frames 1..4 had been dropped and were rebuilt
    after = snapshot(a)
    for (o, f), logits in before.items():
        if o == 2 or f < 6:
            assert torch.equal(logits, after[(o, f)]), (o, f)
    assert not torch.equal(before[(1, 9)], after[(1, 9)])

    b = TrackingSession(model, image)
    b.add_points(0, 1, centre(labels, 0, 1), [1])
    b.add_points(0, 2, centre(labels, 0, 2), [1])
    b.add_points(6, 1, fix, [1])
    b.propagate()
    fresh = snapshot(b)
    assert fresh.keys() == after.keys()
    for key, logits in fresh.items():
        assert (logits - after[key]).abs().max() <= 1e-5, key


def test_backward_correction_range_stops_at_prompted_frame(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(2, 1, centre(labels, 2, 1), [1])
    s.add_points(10, 1, centre(labels, 10, 1), [1])
    s.propagate("backward", start=10)
    assert s.objects[1].results[5].direction == "backward"
    report = s.correct(7, 1, centre(labels, 7, 1), [1])
    assert report.frames == [6, 5, 4, 3]  # down to the prompted frame 2, not past it


def test_cancel_within_one_frame_keeps_results(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    events = []
    report = s.propagate(progress=events.append, cancel=lambda: len(events) >= 3)
    assert report.cancelled and report.frames == [0, 1, 2]
    assert sorted(s.objects[1].results) == [0, 1, 2]
    assert [e.done for e in events] == [1, 2, 3] and all(e.total == 12 for e in events)
    assert events[0].elapsed <= events[-1].elapsed


def test_objects_join_when_their_prompted_frame_is_reached(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    s.add_points(4, 2, centre(labels, 4, 2), [1])
    s.propagate("forward")
    assert sorted(s.objects[2].results) == list(range(4, 12))
    s.propagate("backward", start=4, obj_ids=[2])
    assert sorted(s.objects[2].results) == list(range(12))
    lab = s.labels()
    assert lab.shape == (12, 80, 96) and set(np.unique(lab)) <= {0, 1, 2}


def test_volume_both_ways_from_middle_slice(model):
    vol, truth = synthetic_cells(
        n_frames=9, size=(64, 64), n_cells=2, seed=2, radius=(6.0, 10.0), step=1.0
    )
    s = TrackingSession(model, stack_view(vol, axis="z"))
    s.add_points(4, 1, centre(truth, 4, 1), [1])
    report = s.propagate("both")
    assert report.frames == [4, 5, 6, 7, 8, 4, 3, 2, 1, 0]
    assert sorted(s.objects[1].results) == list(range(9))


def test_confidence_records_and_timeline(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    s.propagate(max_frames=3)
    rows = s.records()
    assert [r["frame"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["prompted"] and not rows[1]["prompted"]
    assert all(
        r["lost"] == (r["object_score"] <= 0 or not (s.object_logits(r["frame"], 1) > 0).any())
        for r in rows
    )
    assert all(0 <= r["predicted_iou"] <= 1.5 for r in rows)
    line = s.timeline(1)
    assert np.isnan(line.scores[4:]).all() and np.allclose(
        line.scores[:4], [r["object_score"] for r in rows]
    )
    assert list(line.lost[:4]) == [r["lost"] for r in rows] and not line.lost[4:].any()
    assert line.prompted == (0,)


def test_present_score_with_an_empty_mask_is_lost(model, movie):
    """An object the score head calls present but whose mask has no pixel is lost everywhere."""
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    s.add_points(0, 2, centre(labels, 0, 2), [1])
    s.propagate(max_frames=3)
    r = s.objects[1].results[2]
    assert r.score > 0 and not r.lost
    r.logits = torch.full_like(
        r.logits, -3.0
    )  # what a collapsing track looks like: present, no pixels
    assert r.present and r.lost
    assert [(x["frame"], x["lost"]) for x in s.records() if x["object_id"] == 1] == [
        (0, False),
        (1, False),
        (2, True),
        (3, False),
    ]
    assert s.lost_frames() == {1: [2], 2: []}
    saved = s.prompts_dict()
    assert saved["lost_frames"] == {"1": [2]} and saved["tracked_frames"] == {"1": 4, "2": 4}
    lines = s.timelines()
    assert list(lines) == [1, 2] and lines[1].lost.tolist() == s.timeline(1).lost.tolist()
    assert s.tracked_frames(2) == [0, 1, 2, 3] and s.lineage() == {}
    assert s.timeline(1).lost.tolist()[:4] == [False, False, True, False]
    assert not (s.label_frame(2) == 1).any()
    assert s.clear() == [0, 1, 2, 3] and s.obj_ids == [] and s.lost_frames() == {}


def test_reads_wait_for_the_frame_being_tracked(model, movie):
    """A reader in another thread (the GUI) never sees a frame half-written: it waits for the step."""
    import threading

    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    entered, release = threading.Event(), threading.Event()
    real_step = s.model.track_step

    def slow_step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        entered.set()
        release.wait(10)
        return out

    s.model.track_step = slow_step
    try:
        worker = threading.Thread(target=lambda: s.propagate(max_frames=1))
        worker.start()
        assert entered.wait(30)
        got = []
        reader = threading.Thread(target=lambda: got.append((s.records(), s.timeline(1))))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and not got  # blocked while frame 1 is being written
        release.set()
        worker.join(30)
        reader.join(30)
    finally:
        release.set()
        del s.model.track_step
    rows, line = got[0]
    assert [r["frame"] for r in rows] == [0, 1] and not np.isnan(line.scores[1])


def test_lost_objects_are_flagged(movie):
    image, labels = movie
    torch.manual_seed(1)
    m = build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE).model
    with torch.no_grad():
        m.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(-5.0)
    s = TrackingSession(m, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    s.propagate(max_frames=2)
    assert all(r["lost"] for r in s.records())
    assert not s.label_frame(1).any()


def test_saved_prompts_reproduce_the_result(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    s.add_points(0, 1, [[2.0, 2.0]], [0])
    s.add_mask(3, 2, labels[3] == 2)
    s.propagate("both")
    import json

    saved = json.loads(json.dumps(s.prompts_dict()))
    t = TrackingSession(model, image)
    t.load_prompts(saved)
    t.propagate("both")
    assert np.array_equal(s.labels(), t.labels())


def test_memory_stays_bounded(model):
    image = np.random.default_rng(0).integers(0, 4000, (40, 32, 32), dtype=np.uint16)
    s = TrackingSession(model, image, feature_cache_mb=1)
    s.add_points(0, 1, [[16.0, 16.0]], [1])
    s.add_points(0, 2, [[8.0, 8.0]], [1])
    s.propagate()
    reach = model.num_maskmem
    for obj in s.objects.values():
        held = [f for f, r in obj.results.items() if r.memory is not None]
        assert len(held) <= reach + 2, held  # the recent window plus the prompted frame
    cache = s.core.features
    per_frame = cache.nbytes() / len(cache)
    assert len(cache) <= max(1, 2**20 // per_frame) and cache.encoded == 40


@pytest.mark.slow
def test_peak_rss_flat_in_number_of_frames():
    """Peak RSS of a 400-frame run stays within 10 % of a 40-frame run (separate processes)."""
    import subprocess
    import sys

    # frames are made on demand by a lazy array (as a zarr or TIFF source would read them), so
    # that RSS measures the tracker and not pages of a memory-mapped input file
    script = """
import resource, sys, numpy as np, torch
from napari_sam2 import build_sam2_video_predictor
from napari_sam2.engine import TrackingSession

class LazyFrames:
    def __init__(self, n):
        self.shape, self.dtype = (n, 256, 256), np.dtype(np.uint16)
    def __getitem__(self, i):
        return (np.random.default_rng(int(i)).random((256, 256)) * 4000).astype(np.uint16)

torch.manual_seed(0)
model = build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=None, image_size=128).model
s = TrackingSession(model, LazyFrames(int(sys.argv[1])), contrast_limits=(0, 4000), feature_cache_mb=8)
s.add_points(0, 1, [[100.0, 100.0]], [1])
s.propagate()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    peaks = {}
    for n in (40, 400):
        out = subprocess.run(
            [sys.executable, "-c", script, str(n)], capture_output=True, text=True, check=True
        )
        peaks[n] = int(out.stdout.strip().splitlines()[-1])
    assert peaks[400] <= 1.10 * peaks[40], peaks


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda s: s.add_points(12, 1, [[5.0, 5.0]], [1]),
            IndexError,
            "frame 12 is outside the stack of 12",
        ),
        (lambda s: s.add_points(0, 1, [[500.0, 5.0]], [1]), ValueError, "outside the 96x80 frame"),
        (lambda s: s.add_points(0, 1), ValueError, "no prompt"),
        (lambda s: s.add_mask(0, 1, np.zeros((80, 96), bool)), ValueError, "empty"),
        (lambda s: s.add_mask(0, 1, np.ones((10, 10), bool)), ValueError, "frame's shape"),
        (lambda s: s.propagate(), RuntimeError, "no object has prompts"),
        (lambda s: s.propagate(direction="sideways"), ValueError, "direction"),
        (lambda s: s.correct(0, 7, [[5.0, 5.0]], [1]), KeyError, "unknown object id 7"),
        (lambda s: s.remove_object(3), KeyError, "unknown object id 3"),
    ],
)
def test_bad_input(model, movie, call, error, message):
    s = TrackingSession(model, movie[0])
    with pytest.raises(error, match=message):
        call(s)
    assert s.obj_ids == []


def test_stack_views():
    tcyx = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    v = stack_view(tcyx, channel_axis=1, channel=2)
    assert v.shape == (2, 4, 5) and np.array_equal(v[1], tcyx[1, 2])
    tyxc = np.random.default_rng(0).random((3, 6, 7, 3))
    rgb = stack_view(tyxc)
    assert rgb.shape == (3, 6, 7, 3) and np.array_equal(rgb[2], tyxc[2])
    assert np.array_equal(stack_view(tyxc, channel=1)[0], tyxc[0, ..., 1])
    tzyx = np.random.default_rng(1).random((4, 5, 6, 7))
    along_z = stack_view(tzyx, axis="z", time_point=2)
    assert along_z.shape == (5, 6, 7) and np.array_equal(along_z[3], tzyx[2, 3])
    along_t = stack_view(tzyx, axis="t", z=1)
    assert along_t.shape == (4, 6, 7) and np.array_equal(along_t[3], tzyx[3, 1])
    with pytest.raises(ValueError, match="axis must be 't' or 'z'"):
        stack_view(tzyx, axis="c")
    with pytest.raises(ValueError, match="needs time_point"):
        stack_view(tzyx, axis="z")
    with pytest.raises(ValueError, match="choose one with channel"):
        stack_view(np.zeros((2, 6, 7, 2)))
    with pytest.raises(ValueError, match="cannot track"):
        stack_view(np.zeros((2, 3, 4, 5, 6)))
    with pytest.raises(ValueError, match="channel 5 does not exist"):
        stack_view(tcyx, channel_axis=1, channel=5)


def test_single_click_offers_three_candidates(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(labels, 0, 1), [1])
    cands = s.candidates(0, 1)
    assert len(cands) == 3 and all(m.shape == (80, 96) for m, _ in cands)
    best = max(range(3), key=lambda i: cands[i][1])
    shown = s.object_logits(0, 1) > 0
    assert (
        s.fill_hole_area > 0 and not (cands[best][0] & ~shown).any()
    )  # hole filling only adds pixels
    exact = TrackingSession(model, image, fill_hole_area=0)
    exact.add_points(0, 1, centre(labels, 0, 1), [1])
    assert np.array_equal(exact.candidates(0, 1)[best][0], exact.object_logits(0, 1) > 0)
    chosen = next(i for i in range(3) if cands[i][0].any())
    s.correct(0, 1, mask=cands[chosen][0])
    assert s.candidates(0, 1) == []  # a mask prompt is not ambiguous
    shown, wanted = s.object_logits(0, 1) > 0, cands[chosen][0]
    # the mask goes through the model's low-res mask grid (as in the official predictor)
    iou = np.logical_and(shown, wanted).sum() / np.logical_or(shown, wanted).sum()
    assert iou > 0.8, iou
    s.add_points(0, 1, [[5.0, 5.0], [9.0, 9.0]], [1, 1], clear=True)
    assert s.candidates(0, 1) == []  # two clicks: single-mask output


def test_click_sequence_resumes_exactly(model, movie):
    image, labels = movie
    s = TrackingSession(model, image)
    ((x, y),) = centre(labels, 0, 1)
    s.add_points(0, 1, [[x, y]], [1])
    s.add_points(0, 1, [[x + 6, y]], [0], clear=False)
    s.add_points(0, 1, [[x - 2, y + 2]], [1], clear=False)
    from napari_sam2.engine.prompting import prompted_result

    full = prompted_result(
        s.core, 0, s.objects[1].prompts[0], s.window
    )  # the whole history from scratch
    assert torch.equal(full.logits, s.objects[1].results[0].logits)
    assert s.objects[1].prompts[0][-1]["labels"] == [1]


@pytest.mark.oracle
def test_click_sequence_matches_official(movie):
    image, labels = movie
    off, state, s = official_and_session(image)
    ((x, y),) = centre(labels, 2, 1)
    for i, (pt, lab) in enumerate((([x, y], 1), ([x + 6, y], 0), ([x - 2, y + 2], 1))):
        _, _, a = off.add_new_points_or_box(
            state, 2, 1, points=[pt], labels=[lab], clear_old_points=i == 0
        )
        b = s.add_points(2, 1, [pt], [lab], clear=i == 0)
        assert np.abs(a[0, 0].numpy() - b).max() <= 1e-4
    official = {f: m for f, _, m in off.propagate_in_video(state)}
    s.propagate()
    assert (
        max(np.abs(official[f][0, 0].numpy() - s.object_logits(f, 1)).max() for f in range(2, 12))
        <= 1e-4
    )


def _memory_lengths(model, session_run):
    """Memory-bank token counts the memory attention saw, per call, while ``session_run()`` ran."""
    return [memory[0] for _, memory in attention_inputs(model, session_run)]


@pytest.mark.parametrize("frames", [0, 2])
def test_memory_frames_fast_mode_shrinks_the_bank(model, movie, frames):
    image, labels = movie
    runs = {}
    for memory in (None, 6, frames):
        s = TrackingSession(model, image, memory_frames=memory)
        s.add_points(0, 1, centre(labels, 0, 1), [1])
        lengths = _memory_lengths(model, s.propagate)
        runs[memory] = (s.labels(), lengths, {f: r.logits for f, r in s.objects[1].results.items()})
    hw = (SIZE // 16) ** 2
    full, fast = runs[None][1], runs[frames][1]
    # once the bank is full (frame 7 on): 1 prompted + 6 recent frames, against 1 + `frames`
    assert full[-1] - fast[-1] == (6 - frames) * hw
    assert np.array_equal(runs[6][0], runs[None][0])  # the model's own number is the exact mode
    assert any(not torch.equal(runs[None][2][f], runs[frames][2][f]) for f in range(2, 12))
    with pytest.raises(ValueError, match="memory_frames must be a whole number from 0 to 6"):
        TrackingSession(model, image, memory_frames=7)


def test_bf16_is_refused_where_it_would_be_slow(model, movie, monkeypatch):
    import napari_sam2.device as device_module

    monkeypatch.setattr(device_module, "bf16_is_fast", lambda device: False)
    with pytest.raises(ValueError, match="precision 'bf16' needs native bfloat16 on cpu"):
        TrackingSession(model, movie[0], precision="bf16")
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        TrackingSession(model, movie[0], precision="fp16")


def test_bf16_fast_mode_tracks_like_fp32_with_real_weights(monkeypatch):
    """bf16 autocast (forced on here: this CPU emulates bf16) on the trained demo model: the masks
    stay close to fp32's while the logits differ (so bf16 really ran)."""
    import napari_sam2.device as device_module
    from napari_sam2.io.evaluate import mask_iou
    from napari_sam2.train.demo.quality import inner_point

    monkeypatch.setattr(device_module, "bf16_is_fast", lambda device: True)
    demo = build_sam2_video_predictor("demo", checkpoint="auto").model
    image, truth = synthetic_cells(n_frames=4, size=(128, 128), n_cells=2, seed=31)
    runs = {}
    for precision in ("fp32", "bf16"):
        s = TrackingSession(demo, image, precision=precision)
        for obj in (1, 2):
            s.add_points(0, obj, [inner_point(truth[0] == obj)], [1])
        s.propagate()
        runs[precision] = (s.labels(), s.object_logits(3, 1))
    ious = [
        mask_iou(runs["fp32"][0][t] == o, runs["bf16"][0][t] == o) for t in range(4) for o in (1, 2)
    ]
    assert min(ious) > 0.9, ious
    assert not np.array_equal(runs["fp32"][1], runs["bf16"][1])


def test_a_model_in_training_mode_is_named_before_tracking(model, movie):
    """A model straight from build_model, or from a training loop, tracks with dropout and without the rules
    SAM 2 applies at inference: the session says so (and leaves the model's mode to its owner)."""
    import warnings

    from napari_sam2.notices import QualityWarning

    image, _ = movie
    model.train()
    try:
        with pytest.warns(QualityWarning, match=r"training mode.*model\.eval\(\)"):
            TrackingSession(model, image)
        assert model.training
    finally:
        model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", QualityWarning)
        TrackingSession(model, image)
