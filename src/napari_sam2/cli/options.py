"""The command line's options, made from the settings types: one flag per field (its :class:`Option`), read
back into the types, which validate them (:mod:`napari_sam2.settings`). Also the parser class (no abbreviated
options, usage errors in one line) and the few arguments that are not settings (clicks, boxes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import Option, SettingError, options

USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse without abbreviated options (``--memory`` must not silently mean ``--memory-frames``, and a
    later option must not change what an old abbreviation means), with usage errors as one line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(USAGE_ERROR, f"error: {message} (see {self.prog} --help)\n")


def _text_to(o: Option):
    """An argparse type that turns the flag's text into the field's kind; ranges are the settings' job."""

    def parse(text: str):
        word = text.strip()
        if o.none is not None and word.lower() == "none":
            return None
        if word.lower() in ("grey", "gray") and "grey" in o.extra:
            return "grey"
        if o.kind in (int, float):
            try:
                value = float(word)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"must be {o.range_text()}, got {text!r}"
                ) from None
            if o.kind is int:
                if not value.is_integer():
                    raise argparse.ArgumentTypeError(f"must be {o.range_text()}, got {text!r}")
                return int(value)
            return value
        if o.kind == "path":
            return Path(word)
        return word

    parse.__name__ = {int: "whole number", float: "number"}.get(o.kind, "text")
    return parse


def _help(o: Option, default) -> str:
    text = o.help
    if "default" not in text and o.kind is not bool and default is not None:
        text += f" (default {default})"
    return text.replace("%", "%%")  # argparse formats help texts


def add_options(parser, settings_type, only=None, skip=(), required=(), base=None) -> None:
    """One flag per field of ``settings_type`` (all, or the names in ``only``, less ``skip``). Nothing is
    filled in by argparse: a flag not given leaves the field at the type's default, or ``base``'s (a
    settings value of that type: a command's own defaults; :func:`read`). ``required`` fields must be
    given."""
    for name, o, default in options(settings_type):
        default = getattr(base, name) if base is not None else default
        if (only is not None and name not in only) or name in skip:
            continue
        kwargs = {"dest": name, "default": argparse.SUPPRESS, "help": _help(o, default)}
        if o.kind is bool:
            kwargs["action"] = "store_true"
        elif o.choices is not None:
            kwargs["choices"] = o.choices
        else:
            kwargs["type"] = _text_to(o)
            kwargs["metavar"] = "PATH" if o.kind == "path" else o.flag.lstrip("-").upper()
        if name in required:
            kwargs["required"] = True
        parser.add_argument(o.flag, **kwargs)


def read(args: argparse.Namespace, settings_type, base=None, **fixed):
    """``settings_type`` made from the flags given in ``args`` and ``fixed``, its defaults (or ``base``'s)
    elsewhere; a bad value is a :class:`~napari_sam2.settings.SettingError` that the command line words
    with its flag."""
    values = {
        name: getattr(args, name) for name, _, _ in options(settings_type) if hasattr(args, name)
    }
    if base is not None:
        return base.replaced(**{**values, **fixed})
    return settings_type(**{**values, **fixed})


def given(args: argparse.Namespace, name: str, default=None):
    """The value of a settings flag when it was given, else ``default``."""
    return getattr(args, name, default)


def _numbers(text: str, n: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{what} must be {n} comma-separated numbers, got {text!r}"
        ) from None
    if len(values) != n:
        raise argparse.ArgumentTypeError(
            f"{what} must be {n} comma-separated numbers, got {text!r}"
        )
    return values


def point(text: str) -> list[float]:
    """--point y,x[,label]: (y, x) pixels, napari's order like every file and CLI format (docs/coordinates.md)."""
    parts = text.split(",")
    if len(parts) == 2:
        parts.append("1")
    values = _numbers(",".join(parts), 3, "--point (y,x[,label])")
    if values[2] not in (0, 1):
        raise argparse.ArgumentTypeError(
            f"--point's label must be 1 (positive) or 0 (negative), got {text!r}"
        )
    return values


def box(text: str) -> list[float]:
    """--box y0,x0,y1,x1: two corners in (y, x) pixels, the order of track's boxes CSV."""
    return _numbers(text, 4, "--box (y0,x0,y1,x1)")


def worded(exc: BaseException) -> str:
    """A settings error named by its flag; other errors as they are."""
    return exc.worded("flag") if isinstance(exc, SettingError) else str(exc)
