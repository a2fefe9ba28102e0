"""Nothing the user owns is destroyed: outputs never replace an input, a folder where a file is written,
or files napari-sam2 did not write, with or without --overwrite (io/atomic.py, engine/batch.py)."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.io.atomic import MARKER, OutputRefused, atomic_output, check_output, foreign_files
from napari_sam2.synthetic import synthetic_cells

# each output of `track`: its flag, the suffix it is written with, and whether it is a folder
OUTPUTS = {
    "--out": (".tif", False),
    "--table": (".csv", False),
    "--summary": (".csv", False),
    "--session": (".json", False),
    "--ctc": ("", True),
    "--geff": (".zarr", True),
    "--trackmate": (".xml", False),
}


def _digest(root: Path) -> dict[str, str]:
    """Every file below ``root`` (links followed) with the hash of its bytes."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _workspace(root: Path) -> dict[str, Path]:
    """A movie, its prompts and a seed label image (the inputs), a user's folder and a user's file."""
    root.mkdir(parents=True, exist_ok=True)
    image, labels = synthetic_cells(n_frames=3, size=(48, 48), n_cells=2, seed=3, radius=(6.0, 8.0))
    tifffile.imwrite(root / "movie.tif", image, photometric="minisblack")
    y, x = np.argwhere(labels[0] == 1).mean(0)
    (root / "points.csv").write_text(f"object_id,frame,y,x,label\n1,0,{y:.1f},{x:.1f},1\n")
    tifffile.imwrite(root / "seg.tif", (labels[0] == 2).astype(np.uint16) * 2)
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("a week of annotations")
    (root / "user.txt").write_text("my own file")
    return {"movie": root / "movie.tif", "points": root / "points.csv", "masks": root / "seg.tif"}


def _target(rng: random.Random, root: Path, inputs: dict, flag: str) -> tuple[Path, str]:
    """A target for ``flag`` of a random kind; the kind says what may legitimately happen to it."""
    suffix, folder = OUTPUTS[flag]
    kinds = {
        "fresh": 6,
        "own-kind-file": 3,
        "input": 1,
        "input-dotdot": 1,
        "input-case": 1,
        "input-link": 1,
        "user-folder": 1,
        "parent-is-file": 1,
        "folder-named-like-file": 1,
    }
    kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
    name = flag.strip("-")
    if kind == "fresh":
        return root / f"new_{name}{suffix}", kind
    if kind.startswith("input"):
        src = inputs[rng.choice(list(inputs))]
        if kind == "input-dotdot":
            (root / "sub").mkdir(exist_ok=True)
            return root / "sub" / ".." / src.name, kind
        if kind == "input-case":
            return src.with_name(src.name.upper()), kind
        if kind == "input-link":
            link = root / f"link_{name}{src.suffix}"
            if not link.exists():
                link.symlink_to(src)
            return link, kind
        return src, kind
    if kind == "user-folder":
        return root / "mine", kind
    if (
        kind == "own-kind-file"
    ):  # an existing user file of the output's own kind (or a user's folder)
        path = root / f"old_{name}{suffix}"
        if folder:
            path.mkdir(exist_ok=True)
            (path / "keep.txt").write_text("precious")
        else:
            path.write_text("an older result")
        return path, kind
    if kind == "parent-is-file":
        return root / "user.txt" / f"x{suffix}", kind
    path = root / f"dir_{name}{suffix}"  # a folder whose name looks like the output's file
    path.mkdir(exist_ok=True)
    (path / "inside.txt").write_text("precious")
    return path, kind


@pytest.mark.slow
def test_random_outputs_never_change_an_input_or_a_users_file(tmp_path):
    """Random combinations of outputs aimed at inputs (also through ``..``, another case and a link), at
    folders, at user files and below files: no input's bytes change, no file the user put in a folder
    changes, a refusal is one 'error:' line (exit 2), and a run that goes ahead writes its outputs."""
    rng = random.Random(29)
    went_ahead = 0
    for case in range(32):
        root = tmp_path / f"case{case}"
        inputs = _workspace(root)
        flags = ["--out", *rng.sample(sorted(set(OUTPUTS) - {"--out"}), rng.randint(0, 3))]
        targets = {f: _target(rng, root, inputs, f) for f in flags}
        overwrite = rng.random() < 0.7
        args = [
            "track",
            str(inputs["movie"]),
            "--points",
            str(inputs["points"]),
            "--masks",
            str(inputs["masks"]),
            "--model",
            "demo",
            "--threads",
            "1",
        ]
        for f, (path, _) in targets.items():
            args += [f, str(path)]
        args += ["--overwrite"] if overwrite else []
        before = _digest(root)
        replaceable = {
            str(p.relative_to(root))
            for f, (p, kind) in targets.items()
            if kind == "own-kind-file" and overwrite and not OUTPUTS[f][1]
        }
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(args)
        after = _digest(root)
        changed = {k for k in before if after.get(k) != before[k]}
        assert changed <= replaceable, (case, args, changed)
        lines = [
            line for line in err.getvalue().splitlines() if line.startswith(("error", "Traceback"))
        ]
        assert rc in (0, 2) and "Traceback" not in err.getvalue(), (case, args, err.getvalue())
        if rc == 2:
            assert len(lines) == 1 and lines[0].startswith("error: "), (case, args, err.getvalue())
        else:  # every output was written where it was asked for
            assert all(p.exists() for p, _ in targets.values()), (case, args)
            assert all(kind in ("fresh", "own-kind-file") for _, kind in targets.values()), (
                case,
                args,
            )
            went_ahead += 1
    assert went_ahead >= 4  # the runs that write are tested too, not only the refusals


def test_refusals_name_what_would_be_lost(tmp_path):
    folder = tmp_path / "res"
    folder.mkdir()
    for name in ("a.tif", "b.tif", "notes.txt"):
        (folder / name).write_text("x")
    with pytest.raises(OutputRefused, match=r"did not write \(a.tif, b.tif, notes.txt\)"):
        check_output(folder, folder=True, overwrite=True)
    with pytest.raises(FileExistsError):
        check_output(folder, folder=True, overwrite=False)
    with pytest.raises(OutputRefused, match="is a folder, and this output is a file"):
        check_output(folder, overwrite=True)
    with pytest.raises(OutputRefused, match="is a file, and this output is a folder"):
        check_output(folder / "a.tif", folder=True, overwrite=True)
    with pytest.raises(OutputRefused, match=f"{folder / 'a.tif'} is a file, not a folder"):
        check_output(folder / "a.tif" / "x.csv", overwrite=True)
    with pytest.raises(OutputRefused, match="holds the input"):
        check_output(tmp_path, folder=True, overwrite=True, inputs=[folder / "a.tif"])
    with pytest.raises(OutputRefused, match="lies inside the input folder"):
        check_output(folder / "new.tif", overwrite=True, inputs=[folder])
    assert sorted(p.name for p in folder.iterdir()) == ["a.tif", "b.tif", "notes.txt"]


def test_a_folder_written_here_is_replaced_until_the_user_adds_a_file(tmp_path):
    store = tmp_path / "out.zarr"
    with atomic_output(store, overwrite=False, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "data").write_text("1")
    assert (store / MARKER).exists() and foreign_files(store) == []
    with atomic_output(store, overwrite=True, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "data").write_text("2")
    assert (store / "data").read_text() == "2"
    (store / "sub").mkdir()
    (store / "sub" / "mine.txt").write_text("precious")
    assert foreign_files(store) == ["sub/mine.txt"]
    with pytest.raises(OutputRefused, match="sub/mine.txt"):
        with atomic_output(store, overwrite=True, folder=True) as tmp:
            tmp.mkdir()
    assert (store / "sub" / "mine.txt").read_text() == "precious" and (
        store / "data"
    ).read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]  # no temporary left behind


def test_a_failed_write_leaves_the_old_output_as_it_was(tmp_path):
    old = tmp_path / "t.csv"
    old.write_text("the last run's table")
    with pytest.raises(RuntimeError):
        with atomic_output(old, overwrite=True) as tmp:
            tmp.write_text("half a tab")
            raise RuntimeError("disk full")
    assert old.read_text() == "the last run's table" and sorted(
        p.name for p in tmp_path.iterdir()
    ) == ["t.csv"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--masks", "{d}/seg.tif", "--out", "{d}/seg.tif"],
            "--out {d}/seg.tif is an input of this command",
        ),
        (
            ["--out", "{d}/l.tif", "--session", "{d}/points.json", "--table", "{d}/POINTS.CSV"],
            "--table {d}/POINTS.CSV is an input of this command",
        ),
        (["--out", "{d}/mine"], "--out must end in .tif, .tiff or .zarr"),
        (
            ["--out", "{d}/folder.tif"],
            "--out {d}/folder.tif is a folder, and this output is a file",
        ),
        (["--out", "{d}/l.tif", "--table", "{d}/folder.csv"], "--table {d}/folder.csv is a folder"),
        (
            ["--out", "{d}/l.tif", "--ctc", "{d}/mine"],
            "--ctc {d}/mine holds files that napari-sam2 did not write (notes.txt)",
        ),
        (
            ["--out", "{d}/mine.zarr"],
            "--out {d}/mine.zarr holds files that napari-sam2 did not write (notes.txt)",
        ),
        (["--out", "{d}/l.tif", "--geff", "{d}/mine.zarr"], "--geff {d}/mine.zarr holds files"),
        (
            ["--out", "{d}/l.tif", "--session", "{d}/points.csv/s.json"],
            "{d}/points.csv is a file, not a folder",
        ),
        (["--out", "{d}/l.tif", "--table", "{d}/t.tif"], "--table must end in .csv"),
        (["--out", "{d}/sub/../movie.tif"], "is an input of this command"),
    ],
)
def test_track_refuses_outputs_that_would_destroy_user_files(tmp_path, capsys, extra, message):
    inputs = _workspace(tmp_path)
    (tmp_path / "folder.tif").mkdir()
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "mine.zarr").mkdir()
    (tmp_path / "mine.zarr" / "notes.txt").write_text("precious")
    (tmp_path / "sub").mkdir()
    before = _digest(tmp_path)
    args = [
        "track",
        str(inputs["movie"]),
        "--points",
        str(inputs["points"]),
        "--model",
        "demo",
        "--overwrite",
    ]
    assert main(args + [a.format(d=tmp_path) for a in extra]) == 2
    err = capsys.readouterr().err
    assert message.format(d=tmp_path) in err and err.count("\n") == 1, err
    assert _digest(tmp_path) == before


def test_segment_never_writes_over_its_input(tmp_path, capsys):
    inputs = _workspace(tmp_path)
    before = _digest(tmp_path)
    for out in (inputs["movie"], tmp_path / "sub" / ".." / "movie.tif", tmp_path / "MOVIE.TIF"):
        assert (
            main(
                [
                    "segment",
                    str(inputs["movie"]),
                    "--point",
                    "20,20",
                    "--out",
                    str(out),
                    "--overwrite",
                    "--model",
                    "demo",
                ]
            )
            == 2
        )
        assert "is an input of this command" in capsys.readouterr().err
    assert (
        main(
            [
                "segment",
                str(inputs["movie"]),
                "--point",
                "20,20",
                "--out",
                str(tmp_path / "mine"),
                "--overwrite",
                "--model",
                "demo",
            ]
        )
        == 2
    )
    assert _digest(tmp_path) == before


def test_finetune_and_evaluate_never_write_over_their_inputs(tmp_path, capsys):
    inputs = _workspace(tmp_path)
    (tmp_path / "start.pt").write_bytes(b"weights")
    before = _digest(tmp_path)
    assert (
        main(
            [
                "finetune",
                str(inputs["movie"]),
                str(inputs["masks"]),
                "--checkpoint",
                str(tmp_path / "start.pt"),
                "--out",
                str(tmp_path / "start.pt"),
                "--overwrite",
            ]
        )
        == 2
    )
    assert "is an input of this command" in capsys.readouterr().err
    assert (
        main(
            [
                "finetune",
                str(inputs["movie"]),
                str(inputs["masks"]),
                "--out",
                str(tmp_path / "m.tif"),
                "--overwrite",
            ]
        )
        == 2
    )
    assert "--out must end in .pt" in capsys.readouterr().err
    (tmp_path / "gt").mkdir()
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "mine"),
                str(tmp_path / "gt"),
                "--json",
                str(tmp_path / "gt" / "m.json"),
            ]
        )
        == 2
    )
    assert "lies inside the input folder" in capsys.readouterr().err
    assert _digest(tmp_path) == before
