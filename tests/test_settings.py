"""Settings as types: one validation per field, flags made from the fields, and session files of every
version read into one layout (settings/, cli/options.py, io/session_files.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2.cli.options import Parser, add_options, read
from napari_sam2.settings import (
    AutoSettings,
    FinetuneSettings,
    ModelSettings,
    OutputSettings,
    RunSettings,
    SeedSettings,
    SettingError,
    StackSettings,
    TrackingSettings,
    opt,
    options,
)

DATA = Path(__file__).parent / "data"
TYPES = (ModelSettings, StackSettings, TrackingSettings, AutoSettings, SeedSettings, OutputSettings)


@pytest.mark.parametrize(
    "make, flag, label, problem",
    [
        (
            lambda: TrackingSettings(memory_frames=7),
            "--memory-frames",
            "memory frames",
            "must be a whole number from 0 to 6, got 7",
        ),
        (
            lambda: TrackingSettings(window=100),
            "--window",
            "window",
            "must be a multiple of 32 from 64 to 4096",
        ),
        (lambda: TrackingSettings(window=32), "--window", "window", "got 32"),
        (
            lambda: TrackingSettings(precision="fp16"),
            "--precision",
            "precision",
            "must be one of fp32, bf16",
        ),
        (
            lambda: TrackingSettings(exclusive="yes"),
            "--exclusive",
            "exclusive pixels",
            "must be true or false",
        ),
        (
            lambda: TrackingSettings(max_batch=2.5),
            "--max-batch",
            "max batch",
            "must be a whole number from 1",
        ),
        (
            lambda: ModelSettings(image_size=100000),
            "--image-size",
            "image size",
            "from 32 to 4096, got 100000",
        ),
        (lambda: ModelSettings(device="tpu"), "--device", "device", "one of auto, cpu, cuda, mps"),
        (lambda: StackSettings(channel=-1), "--channel", "channel", "0 or more or 'grey'"),
        (
            lambda: AutoSettings(pred_iou_thresh=2),
            "--auto-iou",
            "IoU threshold",
            "from 0 to 1, got 2",
        ),
        (
            lambda: AutoSettings(stability_score_thresh=float("nan")),
            "--auto-stability",
            "stability threshold",
            "a number from 0 to 1",
        ),
        (
            lambda: AutoSettings(min_area=50, max_area=10),
            "--max-area",
            "max area (px)",
            "at least min_area (50)",
        ),
        (lambda: FinetuneSettings(lr=0), "--lr", "learning rate", "a number above 0 and at most 1"),
        (lambda: FinetuneSettings(train="decoder"), "--train", "parts", "must name parts among"),
        (lambda: SeedSettings(masks_frame=3), "--masks-frame", "labels frame", "give --masks too"),
        (
            lambda: OutputSettings(out="l.png"),
            "--out",
            "labels",
            "must end in .tif, .tiff or .zarr",
        ),
        (
            lambda: OutputSettings(out="l.tif", table="t.tif"),
            "--table",
            "table",
            "must end in .csv",
        ),
    ],
)
def test_each_field_is_checked_once_and_named_by_its_flag_or_label(make, flag, label, problem):
    with pytest.raises(SettingError) as info:
        make()
    assert problem in str(info.value)
    assert info.value.worded("flag").startswith(f"{flag} ") and info.value.worded(
        "label"
    ).startswith(f"{label} ")


def test_values_are_normalised_and_cross_rules_hold():
    t = TrackingSettings(window=256.0, memory_frames=2)
    assert t.window == 256 and isinstance(t.window, int)
    assert StackSettings(channel="grey").channel == "grey" and StackSettings(
        contrast_limits=[1, 2.5]
    ).contrast_limits == (1.0, 2.5)
    assert OutputSettings(out="a/l.tif").out == Path("a/l.tif")
    assert (
        RunSettings(stack=StackSettings(axis="z")).direction == "both"
        and RunSettings().direction == "forward"
    )
    with pytest.raises(SettingError, match="needs forward tracking"):
        RunSettings(
            seeds=SeedSettings(auto=True, auto_new=3),
            tracking=TrackingSettings(direction="backward"),
        )
    with pytest.raises(SettingError, match="window mode runs the model at the window's size"):
        RunSettings(model=ModelSettings(image_size=512), tracking=TrackingSettings(window=256))
    with pytest.raises(SettingError, match="is not a setting of TrackingSettings"):
        TrackingSettings().replaced(exclusiv=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.window = 512


def test_settings_round_trip_through_plain_data():
    run = RunSettings(
        model=ModelSettings(model="demo", threads=1),
        stack=StackSettings(axis="z", z=None),
        tracking=TrackingSettings(exclusive=True, window=256),
        outputs=OutputSettings(out="o/l.tif", table="o/t.csv", overwrite=True),
    )
    data = json.loads(json.dumps(run.as_dict()))
    assert RunSettings.from_dict(data) == run
    with pytest.raises(SettingError, match="sharpness is not a setting of TrackingSettings"):
        TrackingSettings.from_dict({"sharpness": 3})


def test_every_field_has_a_flag_a_label_and_help_and_no_flag_is_used_twice():
    flags = []
    for owner in TYPES:
        for name, o, _ in options(owner):
            assert o.flag.startswith("--") and o.label and len(o.help) > 20, (owner.__name__, name)
            flags.append(o.flag)
    assert len(flags) == len(set(flags))


def test_flags_are_made_from_the_fields_and_read_back_into_the_type(capsys):
    parser = Parser(prog="t")
    add_options(parser, TrackingSettings)
    args = parser.parse_args(["--memory-frames", "2", "--exclusive", "--window", "256"])
    assert read(args, TrackingSettings) == TrackingSettings(
        memory_frames=2, exclusive=True, window=256
    )
    assert (
        read(parser.parse_args([]), TrackingSettings) == TrackingSettings()
    )  # the type's defaults, not argparse's
    with pytest.raises(SystemExit):
        parser.parse_args(["--memory-frames", "two"])
    assert (
        "argument --memory-frames: must be a whole number from 0 to 6, got 'two'"
        in capsys.readouterr().err
    )
    with pytest.raises(SettingError) as info:
        read(parser.parse_args(["--memory-frames", "9"]), TrackingSettings)
    assert info.value.worded() == "--memory-frames must be a whole number from 0 to 6, got 9"


def test_a_new_tracking_option_is_a_field_and_nothing_else():
    """A field added to the type gets its flag, its help and its validation from the field alone."""

    @dataclasses.dataclass(frozen=True)
    class Tomorrow(TrackingSettings):
        lookahead: int = opt(
            0,
            flag="--lookahead",
            label="look ahead",
            kind=int,
            low=0,
            high=3,
            help="frames decoded ahead before a frame's memory is written (default 0)",
        )

    parser = Parser(prog="t")
    add_options(parser, Tomorrow)
    assert "--lookahead" in parser.format_help() and "frames decoded ahead" in parser.format_help()
    assert read(parser.parse_args(["--lookahead", "2"]), Tomorrow).lookahead == 2
    with pytest.raises(SettingError) as info:
        read(parser.parse_args(["--lookahead", "5"]), Tomorrow)
    assert info.value.worded() == "--lookahead must be a whole number from 0 to 3, got 5"


def test_session_files_of_version_1_read_into_the_current_layout():
    from napari_sam2.io.session_files import SESSION_VERSION, read_session_json

    track = read_session_json(DATA / "session_v1_track.json")
    assert track["version"] == SESSION_VERSION == 2
    assert track["tracking"] == {
        "precision": "fp32",
        "memory_frames": None,
        "max_batch": 8,
        "exclusive": True,
        "window": None,
        "direction": "forward",
    }
    assert track["run"]["stack"] == {"axis": "t", "channel": None, "time_point": None, "z": None}
    assert track["run"]["model"] == {
        "model": "napari_sam2_demo",
        "device": "auto",
        "checkpoint": "auto",
    }
    assert TrackingSettings.from_dict(track["tracking"]) == TrackingSettings(
        max_batch=8, exclusive=True, direction="forward"
    )
    assert StackSettings.from_dict(track["run"]["stack"]) == StackSettings()
    widget = read_session_json(DATA / "session_v1_widget.json")
    assert widget["names"]["1"] == "mother cell" and widget["divisions"] == [
        {"parent": 2, "frame": 2, "daughters": [4, 5]}
    ]
    assert TrackingSettings.from_dict(widget["tracking"]) == TrackingSettings()


def test_a_session_saved_before_the_redesign_tracks_as_it_did(tmp_path):
    """The prompts and settings of a version-1 session file (saved by `track --session` on 2026-12-07, with
    --exclusive and --max-batch 8) give the labels that run wrote, and save again as version 2."""
    from napari_sam2.engine import TrackingSession
    from napari_sam2.io.session_files import read_session_json, write_session_json

    doc = read_session_json(DATA / "session_v1_track.json")
    movie = tifffile.imread(DATA / "session_v1_movie.tif")
    s = TrackingSession.from_settings(
        movie,
        ModelSettings(model="demo", device="cpu"),
        TrackingSettings.from_dict(doc["tracking"]),
    )
    s.load_prompts(doc)
    s.propagate(doc["tracking"]["direction"])
    assert np.array_equal(s.labels(), tifffile.imread(DATA / "session_v1_labels.tif"))
    again = read_session_json(write_session_json(tmp_path / "s.json", s.prompts_dict()))
    assert (
        again["version"] == 2
        and again["tracking"]["exclusive"] is True
        and again["tracking"]["max_batch"] == 8
    )
    assert "exclusive" not in again  # no flat v1 keys any more
