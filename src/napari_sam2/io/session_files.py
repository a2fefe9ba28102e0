"""Session files: a session's prompts, settings and a record of its results as JSON (format
``napari-sam2-session``), written atomically, and read back from any version this package wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_output

SESSION_FORMAT = "napari-sam2-session"
SESSION_VERSION = (
    2  # 2: settings as types (2026-12-07); 1: the tracking settings flat at the top level
)


def _json_ready(obj, where: str = "session_dict"):
    """Convert numpy scalars/arrays (and tuples, Paths) inside ``obj`` to JSON-ready Python values."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            k = k.item() if isinstance(k, np.generic) else k
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise ValueError(f"{where}: key {k!r} is not a str or number")
            out[k] = _json_ready(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise ValueError(f"{where}: cannot store a {type(obj).__name__} in JSON")


def write_session_json(path, session_dict, overwrite: bool = False) -> Path:
    """Write a session dict (prompts + settings) as JSON with ``format``/``version`` fields added.

    numpy arrays become nested lists and numpy scalars plain numbers; dict keys come back as strings.
    """
    if not isinstance(session_dict, dict):
        raise ValueError(f"session_dict must be a dict, got {type(session_dict).__name__}")
    if (
        session_dict.get("format", SESSION_FORMAT) != SESSION_FORMAT
        or session_dict.get("version", SESSION_VERSION) != SESSION_VERSION
    ):
        raise ValueError(
            f"session_dict has a 'format' or 'version' field that is not {SESSION_FORMAT} "
            f"v{SESSION_VERSION}"
        )
    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION, **_json_ready(session_dict)}
    try:
        text = json.dumps(doc, indent=2, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"session_dict cannot be written as JSON: {exc}") from None
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def read_session_json(path) -> dict:
    """Read a file from :func:`write_session_json`, in the layout of the current version (a version-1 file,
    saved before settings became types, is read into it by :func:`upgrade`); the dict includes format and
    version."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (
        ValueError
    ) as exc:  # includes JSON and UTF-8 decoding errors; a missing file raises OSError
        raise ValueError(f"{path} is not a JSON file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise ValueError(f"{path} is not a napari-sam2 session file")
    if doc.get("version") not in (1, SESSION_VERSION):
        raise ValueError(
            f"{path}: unsupported session version {doc.get('version')!r} (this napari-sam2 reads "
            f"versions 1 to {SESSION_VERSION}; a newer one wrote it)"
        )
    return upgrade(doc)


# version 1 kept the tracking settings at the top level and the run's stack and model settings in "run"
V1_TRACKING = ("precision", "memory_frames", "max_batch", "exclusive", "window")
V1_STACK = ("axis", "channel", "time_point", "z")
V1_MODEL = ("device", "checkpoint")


def upgrade(doc: dict) -> dict:
    """A session dict of version 1 in the layout of version 2 (others as they are): the tracking settings
    move into ``tracking`` (with the run's direction), the run's axis, channel, time point and z into
    ``run["stack"]``, its device and checkpoint into ``run["model"]``."""
    if doc.get("version", SESSION_VERSION) != 1:
        return doc
    out = {k: v for k, v in doc.items() if k not in V1_TRACKING and k != "run"}
    out["version"] = SESSION_VERSION
    out["tracking"] = {k: doc[k] for k in V1_TRACKING if k in doc}
    run = doc.get("run")
    if isinstance(run, dict):
        if run.get("direction") is not None:
            out["tracking"]["direction"] = run["direction"]
        out["run"] = {k: v for k, v in run.items() if k not in (*V1_STACK, *V1_MODEL, "direction")}
        out["run"]["stack"] = {k: run[k] for k in V1_STACK if k in run}
        out["run"]["model"] = {
            "model": doc.get("model", "auto"),
            **{k: run[k] for k in V1_MODEL if k in run},
        }
    return out
