"""Many movies in one run (``napari-sam2 track PATTERN --many``): the movies a glob pattern names, what
each one starts from (a points file or a label image beside it or in a folder, or the automatic
segmentation), one movie after another or on a dask cluster, and one table and one summary for all."""

from __future__ import annotations

import os
from pathlib import Path

from ..settings import OutputSettings, RunSettings
from .batch import RunResult, open_view, track_file, write_movies_table, write_summary
from .prompt_files import Prompts, read_masks, read_prompts

MASK_SUFFIXES = (".tif", ".tiff", ".npy", ".zarr")  # the label images read_masks reads
BESIDE_MASKS = ".masks"  # a movie's label image beside it: name.masks.tif for name.tif
SHOWN = 5  # movies named in a refusal


def is_mask_file(path) -> bool:
    """Whether ``path`` is named as a movie's label image (``name.masks.tif``, .tiff, .npy, .zarr): such a file
    is never a movie, even when the pattern matches it."""
    name = Path(path).name.casefold()
    return any(name.endswith(BESIDE_MASKS + s) for s in MASK_SUFFIXES)


def expand_inputs(pattern: str) -> list[Path]:
    """The movies matching a glob pattern such as ``data/*.tif`` (sorted), leaving out label images named
    ``name.masks.tif`` (:func:`is_mask_file`); an error when none is left."""
    import glob

    found = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    files = [f for f in found if not is_mask_file(f)]
    if not files:
        only = " (only label images named NAME.masks.tif, which are never movies)" if found else ""
        raise ValueError(f"no files match {pattern!r}{only}")
    return files


def movie_names(files: list[Path], out_dir) -> list[str]:
    """Each input's name with ``--many``: its stem, or for inputs that share a stem (``a/m.tif``, ``b/m.tif``)
    its path below the folder they have in common, joined by ``_`` (``a_m``, ``b_m``). If names still collide
    (``m.tif`` beside ``m.tiff``), a ValueError names both inputs: one result never silently replaces
    another."""
    out_dir = Path(out_dir)
    stems = [f.stem for f in files]
    shared = {s.casefold() for s in stems if sum(t.casefold() == s.casefold() for t in stems) > 1}
    if shared:
        common = Path(os.path.commonpath([os.path.abspath(f.parent) for f in files]))
    names = []
    for f, stem in zip(files, stems):
        if stem.casefold() in shared:
            rel = Path(os.path.abspath(f)).relative_to(common)
            stem = "_".join((*rel.parts[:-1], rel.stem))
        names.append(stem)
    seen: dict[str, Path] = {}
    for f, name in zip(files, names):
        if name.casefold() in seen:
            raise ValueError(
                f"{seen[name.casefold()]} and {f} would both be written to "
                f"{out_dir / (name + '_labels.tif')}: rename one, or track them in separate runs"
            )
        seen[name.casefold()] = f
    return names


def output_names(files: list[Path], out_dir) -> list[Path]:
    """The labels file of each input with ``--many``: ``out_dir/<name>_labels.tif`` (:func:`movie_names`)."""
    return [Path(out_dir) / f"{name}_labels.tif" for name in movie_names(files, out_dir)]


def _beside(f: Path, suffix: str) -> Path | None:
    path = f.with_suffix(suffix)
    return path if path.exists() else None


def _only(candidates: list[Path], movie: Path) -> Path | None:
    """The one existing path among ``candidates`` (None when none exists); two are refused, never guessed."""
    from ..io.atomic import same_path

    found = []
    for path in candidates:  # on a case-insensitive disk m.TIF and m.tif are one file
        if path.exists() and not any(same_path(path, p) for p in found):
            found.append(path)
    if len(found) > 1:
        raise ValueError(f"{movie} has two label images, {found[0]} and {found[1]}: keep one")
    return found[0] if found else None


def find_masks(files: list[Path], names: list[str], folder=None) -> list[Path | None]:
    """The label image of each movie (None: it has none).

    Without ``folder``: ``<stem>.masks.tif`` (.tiff, .npy or .zarr) beside the movie, as ``<stem>.points.csv``.
    With ``folder`` (``--masks FOLDER``): ``FOLDER/<name>.tif`` (.tiff, .npy or .zarr), ``<name>`` the movie's
    name (:func:`movie_names`, as in ``<name>_labels.tif``), and then every movie must have one: a ValueError
    names the movies that have none. Two label images for one movie, and a label image that is one of the
    movies, are refused.
    """
    from ..io.atomic import same_path

    if folder is None:
        return [_only([f.with_suffix(BESIDE_MASKS + s) for s in MASK_SUFFIXES], f) for f in files]
    folder = Path(folder)
    if not folder.is_dir() or folder.suffix.lower() == ".zarr":
        what = "not found" if not folder.exists() else "not a folder"
        raise ValueError(
            f"--masks {folder} is {what}: with --many, --masks is a folder of label images named after "
            "the movies (NAME.tif for the movie NAME.tif), or leave it out and put NAME.masks.tif "
            "beside each movie"
        )
    found = [_only([folder / (n + s) for s in MASK_SUFFIXES], f) for f, n in zip(files, names)]
    missing = [
        f"{f} (no {n}.tif, .tiff, .npy or .zarr)"
        for f, n, m in zip(files, names, found)
        if m is None
    ]
    if missing:
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        raise ValueError(
            f"--masks {folder} has no label image for {len(missing)} of {len(files)} movies: "
            f"{', '.join(missing[:SHOWN])}{more}"
        )
    for m in found:
        if any(same_path(m, f) for f in files):
            raise ValueError(
                f"--masks {folder}: the label image {m} is one of the movies: keep the label images "
                "in a folder of their own"
            )
    return found


def _movie_prompts(f: Path, mask: Path | None, points_csv, boxes_csv, auto: bool) -> Prompts:
    """A movie's clicks and boxes: the shared CSVs' rows for it, or the CSVs beside it; refused when it has
    both prompts and a label image, or nothing to start from."""
    prompts = read_prompts(
        points_csv or _beside(f, ".points.csv"),
        boxes_csv or _beside(f, ".boxes.csv"),
        file_name=f.name,
    )
    if prompts and mask is not None:
        raise ValueError(
            f"{f} has both prompts ({', '.join(str(p) for p in prompts.files)}) and a label image "
            f"({mask}): give one of them for each movie"
        )
    if not prompts and mask is None and not auto:
        raise ValueError(
            f"no prompts for {f}: give --points/--boxes rows for it (a 'file' column), "
            f"{f.with_suffix('.points.csv').name} or {f.with_suffix('.masks.tif').name} beside it, "
            "a --masks folder, or --auto"
        )
    return prompts


def _check_movie(f: Path, mask: Path | None, run: RunSettings) -> None:
    """Open the movie (lazily) as ``run.stack`` says and read its label image against it, so that a movie that
    cannot be tracked, or a label image of another size, is refused before any movie is tracked."""
    view = open_view(f, run)
    if mask is not None:
        try:
            read_masks(mask, view.shape[0], view.shape[1:3], run.seeds.masks_frame)
        except ValueError as exc:
            raise ValueError(f"{exc} (the label image of {f})") from None


def _track_on_worker(source, prompts: Prompts, run: RunSettings, keep_rows: bool) -> RunResult:
    """:func:`track_file` on a cluster's worker, with torch's threads set there first (``run.model.threads``, or
    the default that leaves a core free): a worker process otherwise takes every core, and two workers on one
    machine would slow each other down."""
    from ..threads import set_threads

    set_threads(run.model.threads)
    return track_file(source, prompts, run, keep_rows=keep_rows)


def track_many(
    pattern: str,
    run: RunSettings,
    out_dir,
    points_csv=None,
    boxes_csv=None,
    scheduler: str | None = None,
    on_result=None,
) -> list[RunResult]:
    """Track every file matching ``pattern`` into the folder ``out_dir`` (names: :func:`output_names`), each
    as ``run`` says (its ``outputs.overwrite``).

    Each movie starts from prompts, from the shared CSVs (rows with a ``file`` column apply to matching files)
    or ``<name>.points.csv`` / ``<name>.boxes.csv`` next to it; or from a label image
    (:func:`find_masks`: beside it, or in the folder ``run.seeds.masks``), not both; and/or from the automatic
    segmentation (``run.seeds.auto``, ``auto_new``: the same meaning as for one movie). Besides the labels
    files, ``run.outputs.table`` is one object table of all movies (a ``movie`` column first) and
    ``run.outputs.summary`` one row per movie (:func:`write_summary`), both written once every movie is
    tracked; other outputs are not written. Every movie, its prompts and label image and every output are
    checked before the first file is tracked. With a dask ``scheduler`` address the files are tracked on
    that cluster, else one after another here, with ``on_result(result)`` called as each one finishes.
    """
    from dataclasses import replace

    from ..io.atomic import same_path

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(
            f"--out {out_dir} is a file: with --many, --out is the folder for the label files"
        )
    files = expand_inputs(pattern)
    names = movie_names(files, out_dir)
    outs = [out_dir / f"{name}_labels.tif" for name in names]
    seeds, overwrite = run.seeds, run.outputs.overwrite
    masks = find_masks(files, names, seeds.masks)
    found = [_movie_prompts(f, m, points_csv, boxes_csv, seeds.auto) for f, m in zip(files, masks)]
    for f, m in zip(files, masks):
        _check_movie(f, m, run)
    inputs = [
        *files,
        *{p for prompts in found for p in prompts.files},
        *(m for m in masks if m is not None),
    ]
    combined = OutputSettings(
        table=run.outputs.table, summary=run.outputs.summary, overwrite=overwrite
    )
    for name, path in combined.given().items():
        if same_path(path, out_dir):
            raise ValueError(f"--{name} {path} is the --out folder: give it a file name (.csv)")
    combined.check_paths(inputs)
    jobs = []
    for f, prompts, mask, o in zip(files, found, masks, outs):
        own = replace(
            seeds, masks=mask, masks_frame=seeds.masks_frame if mask is not None else None
        )
        each = replace(run, seeds=own, outputs=OutputSettings(out=o, overwrite=overwrite))
        each.outputs.check_paths(inputs)
        jobs.append((f, prompts, each))
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = combined.table is not None
    if scheduler is None:
        results = []
        for f, p, each in jobs:
            results.append(track_file(f, p, each, keep_rows=keep))
            if on_result is not None:
                on_result(results[-1])
    else:
        from distributed import Client

        with Client(scheduler) as client:
            futures = [
                client.submit(_track_on_worker, f, p, each, keep, pure=False) for f, p, each in jobs
            ]
            results = client.gather(futures)
        if on_result is not None:
            for r in results:
                on_result(r)
    if combined.table is not None:
        write_movies_table(combined.table, results, overwrite)
    if combined.summary is not None:
        write_summary(combined.summary, results, overwrite)
    return results
