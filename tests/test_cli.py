"""The `napari-sam2 segment` command, and what every command shares: exit codes, errors, warnings, threads."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2 import CheckpointError, SAM2ImagePredictor, build_sam2, cli
from napari_sam2.cli import main
from napari_sam2.notices import RandomWeightsWarning, warn_quality
from napari_sam2.weights import WeightsError
from napari_sam2.synthetic import synthetic_cells


def _checkpoint(tmp_path):
    torch.manual_seed(5)
    model = build_sam2("sam2.1_hiera_tiny", checkpoint=None, image_size=256)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict()}, path)
    return model, path


def test_segment_writes_the_predictor_mask(tmp_path, capsys):
    model, ckpt = _checkpoint(tmp_path)
    stack, _ = synthetic_cells(n_frames=3, size=(96, 120), n_cells=3, seed=4)
    src = tmp_path / "movie.tif"
    tifffile.imwrite(src, stack)
    out = tmp_path / "out" / "mask.tif"
    rc = main(
        [
            "segment",
            str(src),
            "--frame",
            "2",
            "--point",
            "30,40",
            "--point",
            "60,80,0",
            "--checkpoint",
            str(ckpt),
            "--image-size",
            "256",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    written = tifffile.imread(out)
    pred = SAM2ImagePredictor(model)
    pred.set_image(stack[2])
    # --point is (y, x), napari's order; the image predictor takes the official (x, y)
    masks, scores, _ = pred.predict(
        np.array([[40.0, 30.0], [80.0, 60.0]]), np.array([1, 0]), multimask_output=False
    )
    assert written.shape == (96, 120) and written.dtype == np.uint8
    assert np.array_equal(written.astype(bool), masks[0])
    assert "wrote" in capsys.readouterr().out


def test_segment_sample_reports_iou(tmp_path, capsys):
    _, ckpt = _checkpoint(tmp_path)
    rc = main(
        [
            "segment",
            "sample",
            "--point",
            "128,128",
            "--checkpoint",
            str(ckpt),
            "--image-size",
            "256",
            "--out",
            str(tmp_path / "m.tif"),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "predicted IoU" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["segment", "missing.tif", "--point", "1,1", "--out", "x.tif"],
            "error: input file not found: missing.tif",
        ),
        (
            ["segment", "sample", "--out", "x.tif"],
            "error: give at least one --point or a --box, or --auto to segment everything",
        ),
    ],
)
def test_segment_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip() == message and "Traceback" not in err


def test_segment_point_outside_image_is_reported(tmp_path, capsys):
    rc = main(
        [
            "segment",
            "sample",
            "--point",
            "900,5",
            "--image-size",
            "256",
            "--out",
            str(tmp_path / "m.tif"),
        ]
    )
    assert rc == 2
    assert "outside the 256x256 image" in capsys.readouterr().err
    assert not (tmp_path / "m.tif").exists()


def test_segment_frame_out_of_range(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((2, 16, 16), np.uint16))
    assert (
        main(
            ["segment", str(tmp_path / "s.tif"), "--frame", "5", "--point", "1,1", "--out", "x.tif"]
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == "error: --frame 5 is outside the stack of 2 frames"


# ----------------------------------------------------------------------------- conventions of every command
def test_segment_refuses_an_existing_out_without_overwrite(tmp_path, capsys):
    _, ckpt = _checkpoint(tmp_path)
    out = tmp_path / "mask.tif"
    out.write_bytes(b"user data")
    args = [
        "segment",
        "sample",
        "--point",
        "128,128",
        "--checkpoint",
        str(ckpt),
        "--image-size",
        "256",
        "--out",
        str(out),
    ]
    assert main(args) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {out} exists already (use --overwrite to replace it)"
    )
    assert out.read_bytes() == b"user data"
    assert main([*args, "--overwrite"]) == 0
    assert tifffile.imread(out).shape == (256, 256)


def test_help_gives_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in (
        "0    success",
        "2    an error you can fix",
        "130  interrupted",
        "1    an unexpected crash",
    ):
        assert line in text


def _failing_command(monkeypatch, exc):
    def run(args):
        raise exc

    monkeypatch.setattr(cli.weights, "run", run)
    return main(["weights", "list"])


@pytest.mark.parametrize(
    "exc, message",
    [
        (ValueError("frame 9 is outside the stack"), "error: frame 9 is outside the stack"),
        (
            FileNotFoundError(2, "No such file or directory", "p.csv"),
            "error: p.csv: No such file or directory",
        ),
        (WeightsError("no checkpoint for x here"), "error: no checkpoint for x here"),
        (CheckpointError("key mismatch"), "error: key mismatch"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(monkeypatch, capsys, exc, message):
    assert _failing_command(monkeypatch, exc) == 2
    assert capsys.readouterr().err == message + "\n"


def test_library_overwrite_wording_is_translated(monkeypatch, capsys):
    from napari_sam2.io.exports import exists_error

    assert _failing_command(monkeypatch, exists_error("out/t.csv")) == 2
    assert (
        capsys.readouterr().err
        == "error: out/t.csv exists already (use --overwrite to replace it)\n"
    )


@pytest.mark.parametrize(
    "exc", [IndexError("list index out of range"), KeyError("x"), TypeError("bad")]
)
def test_a_bug_exits_1_with_its_traceback(monkeypatch, capsys, exc):
    assert _failing_command(monkeypatch, exc) == 1
    err = capsys.readouterr().err
    assert (
        "Traceback (most recent call last)" in err
        and f"{type(exc).__name__}: " in err
        and "a bug" in err
    )


def test_ctrl_c_is_one_line_and_exit_code_130(monkeypatch, capsys):
    assert _failing_command(monkeypatch, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_quality_warnings_are_single_lines_each_once(monkeypatch, capsys):
    def run(args):
        warn_quality("image size 128 is far from the model's 1024; use --image-size 1024")
        warn_quality("image size 128 is far from the model's 1024; use --image-size 1024")
        warn_quality("colour frames into a grey-trained model; use --channel grey")
        warnings.warn("random weights: masks mean nothing", RandomWeightsWarning, stacklevel=1)
        warnings.warn(
            "the model has random weights", RandomWeightsWarning, stacklevel=1
        )  # the same fact, reworded
        return 0

    monkeypatch.setattr(cli.weights, "run", run)
    for _ in range(2):  # a second command in the same process reports its warnings again
        assert main(["weights", "list"]) == 0
        assert capsys.readouterr().err.splitlines() == [
            "warning: image size 128 is far from the model's 1024; use --image-size 1024",
            "warning: colour frames into a grey-trained model; use --channel grey",
            "warning: random weights: masks mean nothing",
        ]


def test_random_weights_warning_from_segment(tmp_path, capsys):
    assert (
        main(
            [
                "segment",
                "sample",
                "--point",
                "128,128",
                "--model",
                "sam2.1_hiera_tiny",
                "--checkpoint",
                "none",
                "--image-size",
                "256",
                "--out",
                str(tmp_path / "m.tif"),
            ]
        )
        == 0
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if "random weights" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ")


class _Stop(ValueError):
    pass


@pytest.mark.parametrize(
    "command",
    [
        ["segment", "sample", "--point", "10,10", "--out", "m.tif"],
        ["track", "sample", "--out", "l.tif"],
        ["finetune", "imgs", "labs", "--out", "f.pt"],
    ],
)
def test_threads_are_set_before_any_model_work(tmp_path, monkeypatch, capsys, command):
    import napari_sam2.engine.session as session_module
    import napari_sam2.threads as threads_module
    import napari_sam2.train.files as train_files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()  # finetune's inputs exist (their files are read by the stub below)
    (tmp_path / "labs").mkdir()
    calls = []
    monkeypatch.setattr(threads_module, "set_threads", lambda n=None: calls.append(("threads", n)))

    def model_work(*args, **kwargs):
        calls.append(("model",))
        raise _Stop("stop")

    # the module that defines build_sam2 (napari_sam2.build_sam2 looks it up there at each call)
    monkeypatch.setattr(importlib.import_module(build_sam2.__module__), "build_sam2", model_work)
    monkeypatch.setattr(session_module.TrackingSession, "from_settings", classmethod(model_work))
    monkeypatch.setattr(train_files, "read_pairs", lambda *a: [])
    assert main([*command, "--model", "demo", "--threads", "3"]) == 2
    assert calls == [("threads", 3), ("model",)]
    calls.clear()
    assert main([*command, "--model", "demo"]) == 2
    assert calls == [("threads", None), ("model",)]  # None: threads.default_threads()
    assert main([*command, "--threads", "0"]) == 2
    assert "--threads must be a whole number" in capsys.readouterr().err


def test_threads_default_and_environment(tmp_path, monkeypatch):
    from napari_sam2 import threads

    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(threads.ENV, "1")
        assert (
            main(
                [
                    "segment",
                    "sample",
                    "--point",
                    "900,5",
                    "--image-size",
                    "256",
                    "--out",
                    "unused.tif",
                ]
            )
            == 2
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.delenv(threads.ENV)
    assert threads.default_threads() == max(1, min(threads.available_cores() - 1, 8))


@pytest.mark.parametrize("text, value", [("grey", "grey"), ("GRAY", "grey"), ("2", 2), ("0", 0)])
def test_segment_passes_the_channel_to_stack_view(tmp_path, monkeypatch, text, value):
    import napari_sam2.engine.stack as stack_module

    rgb = np.random.default_rng(0).integers(0, 255, (3, 40, 50, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb)
    seen = []

    def spy(data, **kwargs):
        seen.append((np.shape(data), kwargs.get("channel")))
        raise _Stop("stop")

    monkeypatch.setattr(stack_module, "stack_view", spy)
    assert (
        main(
            [
                "segment",
                str(tmp_path / "rgb.tif"),
                "--frame",
                "1",
                "--channel",
                text,
                "--point",
                "5,5",
                "--out",
                str(tmp_path / "m.tif"),
            ]
        )
        == 2
    )
    assert seen == [((3, 40, 50, 3), value)]


def test_segment_channel_picks_a_frame_and_channel(tmp_path):
    from napari_sam2.cli.segment import _load_frame

    data = np.random.default_rng(1).integers(0, 255, (3, 40, 50, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", data)
    frame, _ = _load_frame(str(tmp_path / "rgb.tif"), 2, 1)
    assert np.array_equal(frame, data[2, :, :, 1])
    tifffile.imwrite(tmp_path / "one.tif", data[0])
    assert np.array_equal(_load_frame(str(tmp_path / "one.tif"), 0, 2)[0], data[0, :, :, 2])
    assert np.array_equal(
        _load_frame(str(tmp_path / "one.tif"), 0, None)[0], data[0]
    )  # RGB stays RGB


def test_bad_channel_is_a_usage_error(capsys):
    assert main(["segment", "sample", "--point", "1,1", "--channel", "red", "--out", "x.tif"]) == 2
    assert (
        "argument --channel: must be a whole number, 0 or more or 'grey', got 'red'"
        in capsys.readouterr().err
    )
