"""Video inputs: every frame source gives the same tensors, uint8 follows the official loader, bad input errors."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from napari_sam2 import build_sam2_video_predictor
from napari_sam2.predictor.frames import FrameSource
from napari_sam2.predictor.postprocess import fill_holes_and_sprinkles
from napari_sam2.predictor.video_predictor import NON_COND
from napari_sam2.synthetic import synthetic_cells

SIZE = 64


@pytest.fixture(scope="module")
def movie16():
    image, labels = synthetic_cells(
        n_frames=6, size=(48, 56), n_cells=2, seed=11, radius=(5.0, 8.0)
    )
    return image, labels


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE)


def _all(src):
    return torch.stack([src[i] for i in range(len(src))])


def test_sources_agree(tmp_path, movie16):
    image, _ = movie16
    ref = _all(FrameSource(image, SIZE))
    tifffile.imwrite(tmp_path / "m.tif", image)
    tifffile.imwrite(tmp_path / "c.tif", image, compression="zlib")
    import dask.array as da
    import zarr

    z = zarr.create_array(
        store=str(tmp_path / "m.zarr"), shape=image.shape, chunks=(1, 48, 56), dtype=image.dtype
    )
    z[:] = image
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(image):
        tifffile.imwrite(folder / f"t{i:d}.tif", frame)  # numeric sort: t10 after t9
    sources = {
        "tiff path (memmap)": str(tmp_path / "m.tif"),
        "compressed tiff path": tmp_path / "c.tif",
        "tifffile memmap": tifffile.memmap(tmp_path / "m.tif", mode="r"),
        "dask": da.from_array(image, chunks=(1, 48, 56)),
        "zarr": z,
        "zarr path": tmp_path / "m.zarr",
        "image folder": folder,
    }
    for label, data in sources.items():
        assert torch.equal(_all(FrameSource(data, SIZE)), ref), label


def test_uint8_frames_follow_the_official_loader(tmp_path):
    """The official loader decodes a picture, PIL-resizes it to the model size and divides by 255."""
    pytest.importorskip("sam2")
    from sam2.utils.misc import _load_img_as_tensor

    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (5, 70, 90, 3), dtype=np.uint8)
    src = FrameSource(rgb, SIZE)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    for i in (0, 4):
        Image.fromarray(rgb[i]).save(tmp_path / f"{i}.png")
        official, h, w = _load_img_as_tensor(str(tmp_path / f"{i}.png"), SIZE)
        expected = (official.float() - mean) / std
        assert (h, w) == (70, 90)
        assert torch.allclose(src[i], expected, atol=1e-6)


def test_one_contrast_window_for_the_whole_stack(movie16):
    image, _ = movie16
    dim = image.copy()
    dim[3] = (dim[3] * 0.5).astype(
        np.uint16
    )  # one darker frame stays darker (no per-frame stretch)
    src = FrameSource(dim, SIZE)
    assert src[3].mean() < src[2].mean() - 0.2
    limits = FrameSource(image, SIZE, contrast_limits=(0, 4000))
    assert limits.contrast_limits == (0.0, 4000.0)
    grey = FrameSource(image[..., None], SIZE)
    assert torch.equal(grey[1], FrameSource(image, SIZE)[1])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((10, 10)), r"shape \(T, H, W\)"),
        (np.zeros((2, 3, 10, 10, 3)), r"shape \(T, H, W\)"),
        (np.zeros((0, 10, 10)), "empty"),
        ("/nonexistent/movie.tif", "not found"),
    ],
)
def test_bad_video_inputs(predictor, bad, message):
    with pytest.raises(ValueError, match=message):
        predictor.init_state(bad)


def test_unreadable_and_unsupported_files(predictor, tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(
        ValueError,
        match="cannot read .*bad.tif: it is a damaged or truncated TIFF, or not a TIFF .*not a TIFF file",
    ):
        predictor.init_state(tmp_path / "bad.tif")
    (tmp_path / "movie.gif").write_bytes(b"")
    with pytest.raises(ValueError, match="unsupported video path"):
        predictor.init_state(tmp_path / "movie.gif")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        predictor.init_state(tmp_path / "empty")


def test_video_file_without_the_reader_says_how_to_get_it(predictor, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    (tmp_path / "movie.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(ImportError, match=r"movie.mp4 needs PyAV.*napari-sam2\[video\].*ffmpeg -i"):
        predictor.init_state(video_path=str(tmp_path / "movie.mp4"))


def test_video_file_is_read_with_the_reader(predictor, tmp_path):
    av = pytest.importorskip("av", reason="the optional video reader (the video extra) is missing")
    rng = np.random.default_rng(2)
    blocks = rng.integers(0, 256, (5, 6, 8, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(blocks, 8, 1), 8, 2)  # 48x64, in 8 px blocks
    with av.open(str(tmp_path / "movie.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=5, options={"crf": "0"})  # (near) lossless
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    state = predictor.init_state(video_path=str(tmp_path / "movie.mp4"))
    assert (state["num_frames"], state["video_height"], state["video_width"]) == (5, 48, 64)
    decoded = np.stack([state.frames.raw(i) for i in range(5)]).astype(int)
    assert np.abs(decoded - frames).mean() < 3  # colour conversion rounding only
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="cannot read .*broken.mp4 as a video"):
        predictor.init_state(tmp_path / "broken.mp4")


@pytest.mark.parametrize(
    "options, keep, readable",
    [
        ({}, 0.5, 1),  # uncompressed: tifffile writes the frames, then the later pages' headers
        ({"compression": "zlib"}, 0.5, 2),
        ({"compression": "zlib"}, 0.99, 5),
        ({"imagej": True}, 0.7, 1),
    ],
)
def test_truncated_tiff_is_named_with_what_could_be_read(tmp_path, options, keep, readable):
    """A multi-page TIFF cut short (an interrupted copy) is an error naming the file and the frames
    that could be read, not a shorter stack or "a single image"."""
    from napari_sam2.io.readers import open_frames

    movie = np.random.default_rng(0).integers(0, 4000, (6, 32, 40), dtype=np.uint16)
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, movie, **options)
    assert np.array_equal(np.asarray(open_frames(full)), movie)
    data = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(
        ValueError,
        match=rf"cut.tif is a damaged or truncated TIFF \(\d+ bytes\): {readable} "
        rf"complete page\(s\) of \(32, 40\) uint16 could be read of the 6",
    ):
        open_frames(cut)
    with tifffile.TiffFile(full) as tif:
        last_header = tif.pages[-1].offset
    cut.write_bytes(data[: last_header + 10])  # the last page's header itself is cut
    with pytest.raises(ValueError, match="cut.tif.* damaged or truncated TIFF"):
        open_frames(cut)


def test_nan_frame_is_named(predictor):
    frames = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    frames[2, 5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FrameSource(frames, SIZE)  # the contrast sample reads frame 2
    state = predictor.init_state(frames, contrast_limits=(0, 1))
    predictor.add_new_points_or_box(state, 0, 1, points=[[5, 5]], labels=[1])
    with pytest.raises(ValueError, match="frame 2 contains NaN"):
        list(predictor.propagate_in_video(state))


@pytest.fixture
def state(predictor, movie16):
    return predictor.init_state(movie16[0])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(frame_idx=6, obj_id=1, points=[[5, 5]], labels=[1]),
            IndexError,
            "frame_idx 6 is outside the video of 6",
        ),
        (dict(frame_idx=-1, obj_id=1, points=[[5, 5]], labels=[1]), IndexError, "outside"),
        (dict(frame_idx=1.5, obj_id=1, points=[[5, 5]], labels=[1]), TypeError, "integer"),
        (dict(frame_idx=0, obj_id=1), ValueError, "no prompt"),
        (dict(frame_idx=0, obj_id=1, points=[[5, 5]]), ValueError, "together"),
        (
            dict(frame_idx=0, obj_id=1, points=np.zeros((0, 2)), labels=np.zeros(0)),
            ValueError,
            "empty",
        ),
        (
            dict(frame_idx=0, obj_id=1, points=[[80, 5]], labels=[1]),
            ValueError,
            r"outside the 56x48 frame",
        ),
        (dict(frame_idx=0, obj_id=1, points=[[5, 5]], labels=[3]), ValueError, "labels must be 1"),
        (dict(frame_idx=0, obj_id=1, points=[[5, np.nan]], labels=[1]), ValueError, "NaN"),
        (dict(frame_idx=0, obj_id=1, box=[30, 5, 10, 20]), ValueError, "x0 <= x1"),
        (dict(frame_idx=0, obj_id=1, box=[1, 2, 3]), ValueError, "4 finite numbers"),
        (
            dict(frame_idx=0, obj_id=1, box=[1, 2, 3, 4], clear_old_points=False),
            ValueError,
            "box must come first",
        ),
    ],
)
def test_bad_prompts(predictor, state, kwargs, error, message):
    with pytest.raises(error, match=message):
        predictor.add_new_points_or_box(state, **kwargs)
    assert state.obj_ids == []  # nothing half-registered


def test_bad_mask_and_object_operations(predictor, state):
    with pytest.raises(ValueError, match=r"mask must have the frame's shape \(48, 56\)"):
        predictor.add_new_mask(state, 0, 1, np.zeros((10, 10), bool))
    with pytest.raises(RuntimeError, match="no object has prompts"):
        next(predictor.propagate_in_video(state))
    predictor.add_new_points_or_box(state, 0, 1, points=[[5, 5]], labels=[1])
    with pytest.raises(KeyError, match="unknown object id 9"):
        predictor.remove_object(state, 9)
    assert predictor.remove_object(state, 9, strict=False) == ([1], [])
    with pytest.raises(KeyError, match="unknown object id 'x'"):
        predictor.clear_all_prompts_in_frame(state, 0, "x")
    with pytest.raises(IndexError, match="outside"):
        next(predictor.propagate_in_video(state, start_frame_idx=99))


def test_object_without_prompted_frame_is_named(predictor, state):
    predictor.add_new_points_or_box(state, 0, 1, points=[[5, 5]], labels=[1])
    predictor.add_new_points_or_box(state, 2, 2, points=[[9, 9]], labels=[1])
    predictor.clear_all_prompts_in_frame(state, 2, 2)
    with pytest.raises(RuntimeError, match="object 2 has no prompted frame"):
        next(predictor.propagate_in_video(state))


def test_hole_filling_works_on_cpu(movie16):
    """fill_hole_area fills background components of up to N low-res pixels (to logit 0.1, as the
    official CUDA path does); on the clicked frame the output is exactly the filled raw output."""
    from scipy import ndimage

    image, labels = movie16
    torch.manual_seed(0)
    plain = build_sam2_video_predictor(
        "sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE, fill_hole_area=0
    )
    filled = build_sam2_video_predictor(
        "sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE, fill_hole_area=8
    )
    filled.model.load_state_dict(plain.model.state_dict())
    with torch.no_grad():
        for p in (plain, filled):
            p.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(3.0)
    states = []
    for p in (plain, filled):
        s = p.init_state(image)
        y, x = np.argwhere(labels[0] == 1).mean(0)
        p.add_new_points_or_box(s, 0, 1, points=[[x, y]], labels=[1])
        list(p.propagate_in_video(s))
        states.append(s)
    raw = states[0].output_dict_per_obj[0]["cond_frame_outputs"][0].masks
    out = states[1].output_dict_per_obj[0]["cond_frame_outputs"][0].masks
    assert torch.equal(fill_holes_and_sprinkles(raw, 0.0, max_hole_area=8, hole_value=0.1), out)
    holes_before = 0
    for f in range(6):
        bank = "cond_frame_outputs" if f == 0 else NON_COND
        for st, limit in ((states[0], None), (states[1], 8)):
            background = st.output_dict_per_obj[0][bank][f].masks[0, 0].numpy() <= 0
            lab, n = ndimage.label(background, structure=np.ones((3, 3)))
            small = sum(1 for a in np.bincount(lab.ravel())[1:] if a <= 8)
            if limit is None:
                holes_before += small
            else:
                assert small == 0, f"frame {f} keeps a hole"
    assert holes_before > 0, "the scenario must contain holes to fill"


# --------------------------------------------------------------- channels and colour

LUMA = np.array([0.299, 0.587, 0.114])


def test_stack_view_channel_numbers_are_checked_against_the_data():
    from napari_sam2.engine.stack import stack_view

    tyx = np.zeros((2, 6, 7), np.uint16)
    with pytest.raises(
        ValueError, match=r"channel 5 given, but data of shape \(2, 6, 7\) has no channel axis"
    ):
        stack_view(tyx, channel=5)
    with pytest.raises(
        ValueError, match=r"channel 0 given, but data of shape \(2, 3, 6, 7\) has no channel"
    ):
        stack_view(np.zeros((2, 3, 6, 7)), channel=0, z=1)  # (T, Z, Y, X)
    tyxc = np.random.default_rng(0).integers(0, 256, (3, 6, 7, 3), dtype=np.uint8)
    with pytest.raises(
        ValueError, match=r"channel 3 does not exist: data of shape \(3, 6, 7, 3\) has 3 channel"
    ):
        stack_view(tyxc, channel=3)
    with pytest.raises(ValueError, match=r"channel -1 does not exist"):
        stack_view(tyxc, channel=-1)
    with pytest.raises(ValueError, match="'grey' needs 3 .* or 4"):
        stack_view(np.zeros((2, 6, 7, 2)), channel="grey")
    with pytest.raises(ValueError, match="channel number or 'grey'"):
        stack_view(tyxc, channel="green")
    # grey: float32 luminance; grey data stays as it is; one channel needs no choice
    grey = stack_view(tyxc, channel="grey")
    assert grey.shape == (3, 6, 7) and grey.dtype == np.float32
    np.testing.assert_allclose(grey[2], tyxc[2] @ LUMA, rtol=1e-5)
    assert np.array_equal(stack_view(tyx, channel="grey")[1], tyx[1])
    rgba = np.concatenate([tyxc, np.full((3, 6, 7, 1), 255, np.uint8)], -1)
    np.testing.assert_allclose(stack_view(rgba, channel="gray")[0], tyxc[0] @ LUMA, rtol=1e-5)
    single = stack_view(np.arange(2 * 6 * 7).reshape(2, 6, 7, 1))
    assert single.shape == (2, 6, 7) and single[1][0, 0] == 42


def test_frame_source_channels_and_the_colour_warning():
    from napari_sam2.engine.session import TrackingSession
    from napari_sam2.notices import QualityWarning
    from napari_sam2.predictor.frames import warn_if_colour

    rgb = np.random.default_rng(3).integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    luminance = (rgb.astype(np.float64) @ LUMA).astype(np.float32)
    grey = FrameSource(rgb, SIZE, channel="grey")
    assert grey.channels == 1 and not grey.colour
    assert torch.allclose(grey[1], FrameSource(luminance, SIZE)[1], atol=1e-5)
    assert torch.equal(FrameSource(rgb, SIZE, channel=2)[0], FrameSource(rgb[..., 2], SIZE)[0])
    with pytest.raises(
        ValueError, match=r"channel 5 given, but frames of shape \(2, 40, 48\) have no channel axis"
    ):
        FrameSource(rgb[..., 0], SIZE, channel=5)
    with pytest.raises(
        ValueError, match=r"channel 3 does not exist: frames of shape \(2, 40, 48, 3\)"
    ):
        FrameSource(rgb, SIZE, channel=3)
    source = FrameSource(rgb, SIZE)
    assert source.colour and not FrameSource(np.repeat(rgb[..., :1], 3, -1), SIZE).colour

    from dataclasses import replace

    demo = build_sam2_video_predictor(
        "demo"
    )  # demo v2 saw colour: mark it grey-trained to test the rule
    demo.model.cfg = replace(demo.model.cfg, trained_on_grey=True)
    with pytest.warns(QualityWarning, match="napari_sam2_demo was trained on grey frames only"):
        demo.init_state(rgb)
    with pytest.warns(QualityWarning, match="channel='grey'"):
        TrackingSession(demo.model, rgb)
    colour_trained = build_sam2_video_predictor(
        "sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE
    ).model
    with warnings.catch_warnings():
        warnings.simplefilter("error", QualityWarning)
        demo.init_state(rgb, channel="grey")
        TrackingSession(demo.model, FrameSource(rgb, demo.image_size, channel="grey"))
        warn_if_colour(source, colour_trained)


class _CountingFrames:
    """An array-like movie that counts the frames read from it (as a file-backed array would pay)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.reads = data, data.shape, data.dtype, []

    def __getitem__(self, key):
        self.reads.append(key)
        return self.data[key]


def test_windows_of_a_frame_read_it_from_the_file_once(movie16):
    counting = _CountingFrames(movie16[0])
    frames = FrameSource(counting, 64, contrast_limits=(0.0, 4000.0))
    first = [frames.window(3, y, x) for y, x in ((0, 0), (10, 20), (40, 50))]
    assert counting.reads == [3]
    frames.window(4, 0, 0)
    assert counting.reads == [3, 4]
    # the same pixels as reading the frame each time
    again = FrameSource(movie16[0], 64, contrast_limits=(0.0, 4000.0))
    for (y, x), w in zip(((0, 0), (10, 20), (40, 50)), first):
        assert torch.equal(w, again.window(3, y, x))


def test_a_tiff_stack_is_read_from_the_file_not_mapped(tmp_path, movie16):
    # a mapped file's pages stay resident once read: a long movie would fill the process's memory
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, movie16[0])
    frames = FrameSource(str(path), 64)
    assert not isinstance(frames.data, np.memmap)
    assert np.array_equal(frames.raw(5), movie16[0][5])
