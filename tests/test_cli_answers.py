"""Every input gets a clear answer: accepted and used, or refused in one line naming what is wrong
(frame folders, sizes, windows, CSV dialects, ranges, negative-only clicks, summaries that add up)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_sam2.cli import build_parser, main
from napari_sam2.engine import TrackingSession
from napari_sam2.synthetic import synthetic_cells, synthetic_volume


@pytest.fixture
def movie(tmp_path):
    image, labels = synthetic_cells(n_frames=4, size=(64, 64), n_cells=2, seed=5, radius=(7.0, 9.0))
    tifffile.imwrite(tmp_path / "movie.tif", image, photometric="minisblack")
    y, x = np.argwhere(labels[0] == 1).mean(0)
    (tmp_path / "p.csv").write_text(f"object_id,frame,y,x,label\n1,0,{y:.2f},{x:.2f},1\n")
    return tmp_path / "movie.tif", image, labels, (y, x)


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if a model is built: the refusal must come first."""

    def build(*args, **kwargs):
        raise AssertionError("a model was built before the input was checked")

    monkeypatch.setattr(TrackingSession, "from_settings", classmethod(build))


def _run(args, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_folder_of_frames_is_a_movie_in_natural_order(tmp_path, movie, capsys):
    path, image, labels, _ = movie
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, name in enumerate(
        ["f1.png", "f2.png", "f10.png", "f11.png"]
    ):  # 10 after 2: natural order
        Image.fromarray(image[t]).save(frames / name)
    base = ["track", "--points", tmp_path / "p.csv", "--model", "demo", "--threads", "1"]
    assert _run([*base[:1], frames, *base[1:], "--out", tmp_path / "a.tif"], capsys)[0] == 0
    assert _run([*base[:1], path, *base[1:], "--out", tmp_path / "b.tif"], capsys)[0] == 0
    assert np.array_equal(tifffile.imread(tmp_path / "a.tif"), tifffile.imread(tmp_path / "b.tif"))
    Image.fromarray(image[0][:40]).save(frames / "f12.png")
    rc, _, err = _run([*base[:1], frames, *base[1:], "--out", tmp_path / "c.tif"], capsys)
    assert (
        rc == 2
        and "differ in size (64x64: 4 file(s), e.g. f1.png; 40x64: 1 file(s), e.g. f12.png)" in err
    )
    rc, _, err = _run([*base[:1], frames, *base[1:], "--out", frames / "l.tif"], capsys)
    assert rc == 2 and "lies inside the input folder" in err  # it would become a frame of the movie


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--image-size", "100000"],
            "--image-size must be a multiple of 32 from 32 to 4096, got 100000",
        ),
        (["--image-size", "100"], "--image-size must be a multiple of 32 from 32 to 4096, got 100"),
        (["--window", "0"], "--window must be a multiple of 32 from 64 to 4096 or 'auto', got 0"),
        (["--window", "7"], "--window must be a multiple of 32 from 64 to 4096 or 'auto', got 7"),
        (
            ["--window", "96.5"],
            "argument --window: must be a multiple of 32 from 64 to 4096 or 'auto', got '96.5'",
        ),
        (["--auto", "--auto-iou", "2"], "--auto-iou must be a number from 0 to 1, got 2"),
        (
            ["--auto", "--auto-stability", "-0.1"],
            "--auto-stability must be a number from 0 to 1, got -0.1",
        ),
        (
            ["--auto", "--points-per-side", "0"],
            "--points-per-side must be a whole number from 1 to 256, got 0",
        ),
        (["--auto", "--min-area", "-5"], "--min-area must be a whole number, 0 or more, got -5"),
        (["--max-batch", "0"], "--max-batch must be a whole number from 1 to 4096, got 0"),
        (["--memory-frames", "-1"], "--memory-frames must be a whole number from 0 to 6, got -1"),
        (["--masks-frame", "-1"], "--masks-frame must be a whole number, 0 or more, got -1"),
        (["--auto-new", "0"], "--auto-new must be a whole number, 1 or more, got 0"),
        (
            ["--time-point", "nan"],
            "argument --time-point: must be a whole number, 0 or more, got 'nan'",
        ),
        (
            ["--memory", "motion"],
            "argument --memory: invalid choice: 'motion' (choose from 'official', 'resolved')",
        ),
        (["--memory-frame", "1"], "unrecognized arguments: --memory-frame 1"),  # no abbreviations
        (["--over"], "unrecognized arguments: --over"),
    ],
)
def test_bad_numbers_and_abbreviations_are_one_line(
    tmp_path, movie, no_model, capsys, args, message
):
    path = movie[0]
    rc, out, err = _run(
        ["track", path, "--points", tmp_path / "p.csv", "--out", tmp_path / "l.tif", *args], capsys
    )
    assert rc == 2 and message in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.tif", "p.csv"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["segment", "sample", "--point", "1,1", "--out", "x.tif", "--frame", "-2"],
            "argument --frame",
        ),
        (
            ["finetune", "a", "b", "--out", "m.pt", "--epochs", "0"],
            "--epochs must be a number above 0",
        ),
        (
            ["finetune", "a", "b", "--out", "m.pt", "--lr", "-1"],
            "--lr must be a number above 0 and at most 1",
        ),
        (
            ["finetune", "a", "b", "--out", "m.pt", "--clips", "0"],
            "--clips must be a whole number from 1 to 64",
        ),
    ],
)
def test_other_commands_check_their_numbers(capsys, args, message):
    rc, _, err = _run(args, capsys)
    assert rc == 2 and message in err and err.count("\n") == 1


def test_every_option_has_help_and_the_version_is_printed(capsys):
    def walk(parser, where):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{where} {name}")
            elif action.dest != "help":
                yield where, action

    found = list(walk(build_parser(), "napari-sam2"))
    assert len(found) > 60
    assert [f"{w} {a.option_strings or a.dest}" for w, a in found if not a.help] == []
    from napari_sam2 import __version__

    assert main(["--version"]) == 0 and capsys.readouterr().out == f"napari-sam2 {__version__}\n"


def test_a_window_as_large_as_the_frame_tracks_the_whole_frame(tmp_path, movie, capsys):
    path = movie[0]
    base = ["track", path, "--points", tmp_path / "p.csv", "--model", "demo", "--threads", "1"]
    rc, _, err = _run([*base, "--window", "1024", "--out", tmp_path / "w.tif"], capsys)
    assert (
        rc == 0
        and "warning: the window (1024 px) is as large as the frames (64x64 px) or larger" in err
    )
    assert _run([*base, "--out", tmp_path / "f.tif"], capsys)[0] == 0
    assert np.array_equal(tifffile.imread(tmp_path / "w.tif"), tifffile.imread(tmp_path / "f.tif"))


def test_an_input_size_too_large_for_the_memory_is_refused_before_allocating(
    tmp_path, movie, monkeypatch, capsys
):
    import napari_sam2.loading as loading

    monkeypatch.setattr(loading, "available_memory", lambda: 2 * 2**30)
    path = movie[0]
    rc, _, err = _run(
        [
            "track",
            path,
            "--points",
            tmp_path / "p.csv",
            "--model",
            "demo",
            "--image-size",
            "2048",
            "--out",
            tmp_path / "l.tif",
        ],
        capsys,
    )
    assert (
        rc == 2
        and "image size 2048 px needs about 3.1 GB of memory to track, and this machine has 2.0 GB"
        in err
    )
    assert not (tmp_path / "l.tif").exists()


def test_semicolon_csv_with_decimal_commas_is_read(tmp_path, movie, capsys):
    path, _, _, (y, x) = movie
    (tmp_path / "eu.csv").write_text(
        f"object_id;frame;y;x;label\n1;0;{y:.2f};{x:.2f};1\n".replace(".", ",")
    )
    base = ["track", path, "--model", "demo", "--threads", "1"]
    assert (
        _run([*base, "--points", tmp_path / "eu.csv", "--out", tmp_path / "a.tif"], capsys)[0] == 0
    )
    assert (
        _run([*base, "--points", tmp_path / "p.csv", "--out", tmp_path / "b.tif"], capsys)[0] == 0
    )
    assert np.array_equal(tifffile.imread(tmp_path / "a.tif"), tifffile.imread(tmp_path / "b.tif"))


def test_only_negative_clicks_for_an_object_are_refused(tmp_path, movie, no_model, capsys):
    path, _, _, (y, x) = movie
    (tmp_path / "neg.csv").write_text(
        f"object_id,frame,y,x,label\n1,0,{y},{x},1\n2,0,{y},{x},0\n2,0,5,5,0\n"
    )
    rc, _, err = _run(
        ["track", path, "--points", tmp_path / "neg.csv", "--out", tmp_path / "l.tif"], capsys
    )
    assert rc == 2 and "object 2 on frame 0 has only negative clicks (label 0)" in err
    assert [line for line in err.splitlines() if not line.startswith(("note:", "warning:"))] == [
        err.splitlines()[-1]
    ]


def test_only_negative_clicks_are_refused_by_the_session(movie):
    from conftest import present_model

    s = TrackingSession(present_model(128, seed=1), movie[1])
    with pytest.raises(ValueError, match="object 3 on frame 1 has only negative clicks"):
        s.add_points(1, 3, [[10.0, 10.0]], [0])
    assert s.obj_ids == []
    s.add_points(1, 3, [[30.0, 30.0]], [1])
    s.add_points(1, 3, [[10.0, 10.0]], [0])  # a negative click after a positive one refines it
    with pytest.raises(ValueError, match="only negative clicks"):
        s.add_points(1, 3, [[10.0, 10.0]], [0], clear=True)


def test_the_sample_uses_the_users_clicks(tmp_path, capsys):
    (tmp_path / "p.csv").write_text("object_id,frame,y,x,label\n7,0,100,100,1\n")
    rc, out, _ = _run(
        [
            "track",
            "sample",
            "--points",
            tmp_path / "p.csv",
            "--out",
            tmp_path / "l.tif",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert rc == 0 and "1 object tracked over 20 frames" in out
    assert set(np.unique(tifffile.imread(tmp_path / "l.tif"))) <= {0, 7}


def test_a_one_frame_movie_gives_a_one_frame_stack(tmp_path, movie, capsys):
    path, image, _, _ = movie
    tifffile.imwrite(tmp_path / "one.tif", image[:1], photometric="minisblack")
    rc, out, _ = _run(
        [
            "track",
            tmp_path / "one.tif",
            "--points",
            tmp_path / "p.csv",
            "--model",
            "demo",
            "--out",
            tmp_path / "l.tif",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert (
        rc == 0 and "1 object tracked over 1 frame in" in out and ": 1 object-frame, 0 lost" in out
    )
    assert tifffile.imread(tmp_path / "l.tif").shape == (1, 64, 64)


def test_a_volume_both_ways_counts_each_slice_once(tmp_path, capsys):
    volume, truth = synthetic_volume(shape=(10, 48, 48), n_cells=2, seed=2, radius=(6.0, 9.0))
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack")
    z = 5
    ys, xs = np.nonzero(truth[z] == truth[z].max())
    (tmp_path / "p.csv").write_text(f"object_id,frame,y,x,label\n1,{z},{ys.mean()},{xs.mean()},1\n")
    rc, out, _ = _run(
        [
            "track",
            tmp_path / "v.tif",
            "--points",
            tmp_path / "p.csv",
            "--axis",
            "z",
            "--direction",
            "both",
            "--model",
            "demo",
            "--out",
            tmp_path / "l.tif",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert rc == 0 and "1 object tracked over 10 frames" in out and ": 10 object-frames," in out, (
        out
    )


def test_the_summary_adds_up(tmp_path, movie, capsys):
    path, _, labels, (y, x) = movie
    y2, x2 = np.argwhere(labels[2] == 2).mean(0)
    (tmp_path / "two.csv").write_text(
        f"object_id,frame,y,x,label\n1,0,{y},{x},1\n2,2,{y2},{x2},1\n"
    )
    rc, out, _ = _run(
        [
            "track",
            path,
            "--points",
            tmp_path / "two.csv",
            "--model",
            "demo",
            "--threads",
            "1",
            "--out",
            tmp_path / "l.tif",
            "--table",
            tmp_path / "t.csv",
        ],
        capsys,
    )
    # object 2 starts on frame 2 and is tracked forward: 4 + 2 object-frames over 4 frames
    assert (
        rc == 0 and "2 objects tracked over 4 frames in" in out and ": 6 object-frames, " in out
    ), out
    rows = (tmp_path / "t.csv").read_text().strip().splitlines()[1:]
    lost = int(out.split("object-frames, ")[1].split(" lost")[0])
    assert len(rows) == 6 and sum(r.split(",")[11] == "True" for r in rows) == lost


def test_a_negative_click_on_a_tracked_frame_cuts_the_mask_it_shows(movie):
    """A correction made of negative clicks alone on a frame the object was tracked on starts from the
    mask shown there (it becomes the frame's first prompt) instead of from nothing."""
    from conftest import present_model

    image = movie[1]
    s = TrackingSession(present_model(128, seed=1), image)
    (y, x) = movie[3]
    s.add_points(0, 1, [[x, y]], [1])
    s.propagate()
    shown = s.object_logits(2, 1) > 0
    ys, xs = np.nonzero(shown)
    far = int(
        np.argmax((ys - y) ** 2 + (xs - x) ** 2)
    )  # a pixel of the mask far from the cell's centre
    s.correct(2, 1, [[float(xs[far]), float(ys[far])]], [0])
    assert list(s.object(1).prompts[2][0]) == ["mask"] and np.array_equal(
        s.object(1).prompts[2][0]["mask"], shown
    )
    assert s.object(1).prompts[2][1]["labels"] == [0]
    again = TrackingSession(
        present_model(128, seed=1), image
    )  # the saved prompts replay the correction
    again.load_prompts(s.prompts_dict())
    assert np.array_equal(again.object_logits(2, 1), s.object_logits(2, 1))
