"""How a setting is declared and checked: :class:`Option` (a field's flag, label, help and the values
it may take), :func:`opt` to declare a field with one, and :class:`Settings`, the base of every
settings type, which checks each field against its Option when an instance is made.

No torch, napari or Qt is imported here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingError(ValueError):
    """A setting with a value it may not take. ``owner`` is the settings type, ``name`` the field; the
    message (``str``) names the field, :meth:`worded` lets the command line or the widget name it their way."""

    def __init__(self, owner: type, name: str, problem: str) -> None:
        self.owner, self.name, self.problem = owner, name, problem
        super().__init__(f"{name} {problem}")

    @property
    def option(self) -> "Option | None":
        return option_of(self.owner, self.name)

    def worded(self, how: str = "flag") -> str:
        """The message with the field named by its command-line flag (``how="flag"``) or its widget label."""
        opt = self.option
        if opt is None:
            return str(self)
        return f"{opt.flag if how == 'flag' else opt.label} {self.problem}"


@dataclass(frozen=True)
class Option:
    """How one setting is shown and what it may be.

    flag: the command-line flag (``--memory-frames``); label: the widget's label; help: the help text
    and tooltip; kind: ``int``, ``float``, ``bool``, ``str`` or ``"path"`` (None is allowed when the
    field's default is None, or ``none`` says what it means); low/high: the range (inclusive; None: open);
    above: a bound the value must exceed; multiple: the value is a multiple of it; choices: the values a
    string may take; words: how the widget lists the values, ``((text, value), ...)``; none: what None
    means, in words (for help texts); extra: values allowed besides the kind (``"auto"``); widget: False for settings that have no control in the widget.
    """

    flag: str
    label: str
    help: str
    kind: Any = str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    multiple: int | None = None
    choices: tuple | None = None
    words: tuple | None = None
    none: str | None = None
    extra: tuple = ()
    widget: bool = True

    def range_text(self) -> str:
        """The allowed values in words: "a whole number from 0 to 6", "one of fp32, bf16", ..."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        word = {int: "a whole number", float: "a number"}.get(self.kind, "a text")
        if self.kind is int and self.multiple:
            word = f"a multiple of {self.multiple}"
        if self.above is not None:
            word += f" above {_num(self.above)}" + (
                f" and at most {_num(self.high)}" if self.high is not None else ""
            )
        elif self.low is not None and self.high is not None:
            word += f" from {_num(self.low)} to {_num(self.high)}"
        elif self.low is not None:
            word += f", {_num(self.low)} or more"
        elif self.high is not None:
            word += f", at most {_num(self.high)}"
        if self.extra:
            word += " or " + " or ".join(repr(e) for e in self.extra)
        return word


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def opt(default, **option) -> Any:
    """A dataclass field with ``default`` and an :class:`Option` as its metadata."""
    return field(default=default, metadata={"option": Option(**option)})


def option_of(owner: type, name: str) -> Option | None:
    for f in fields(owner):
        if f.name == name:
            return f.metadata.get("option")
    return None


def options(owner) -> list[tuple[str, Option, Any]]:
    """``(name, Option, default)`` of every field of a settings type (or instance) that has an Option."""
    return [
        (f.name, f.metadata["option"], f.default) for f in fields(owner) if "option" in f.metadata
    ]


def _check(value, name: str, o: Option, owner: type, nullable: bool):
    """``value`` as the field stores it (ints stay ints, paths become Path), or a SettingError."""

    def bad(text: str = ""):
        shown = (
            repr(value)
            if isinstance(value, str)
            else _num(value)
            if isinstance(value, float)
            else value
        )
        return SettingError(owner, name, text or f"must be {o.range_text()}, got {shown}")

    if value is None:
        if nullable:
            return None
        raise bad()
    if value in o.extra:
        return value
    if o.kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if o.kind == "path":
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise bad("must be a file or folder name")
        return Path(value)
    if o.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if o.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad()
            value = int(value)
        elif not math.isfinite(value):
            raise bad()
        else:
            value = float(value)
        if (
            (o.low is not None and value < o.low)
            or (o.high is not None and value > o.high)
            or (o.above is not None and value <= o.above)
            or (o.multiple and value % o.multiple)
        ):
            raise bad()
        return value
    if not isinstance(value, str) or (o.choices is not None and value not in o.choices):
        raise bad()
    return value


class Settings:
    """Validation shared by the settings types: every field with an :class:`Option` is checked against it
    when an instance is made (and normalised: whole floats to int, paths to Path); :meth:`check` adds what
    depends on several fields."""

    def __post_init__(self) -> None:
        for name, o, default in options(self):
            nullable = default is None or o.none is not None
            value = _check(getattr(self, name), name, o, type(self), nullable=nullable)
            object.__setattr__(self, name, value)
        self.check()

    def check(self) -> None:
        """Rules that tie fields together (none by default)."""

    def replaced(self, **changes):
        """A copy with ``changes`` (validated); an unknown name is a SettingError naming the fields there are."""
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise SettingError(
                    type(self),
                    name,
                    f"is not a setting of {type(self).__name__} "
                    f"(its settings: {', '.join(sorted(known))})",
                )
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain data for JSON (paths as text, nested settings as dicts)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                value = value.as_dict()
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict | None):
        """Settings from :meth:`as_dict`'s data; keys it does not know are refused, missing ones keep their
        defaults."""
        data = dict(data or {})
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data.pop(f.name)
            sub = f.default_factory  # a nested settings type is its field's default factory
            nested = isinstance(sub, type) and issubclass(sub, Settings) and isinstance(value, dict)
            kwargs[f.name] = sub.from_dict(value) if nested else value
        if data:
            raise SettingError(cls, sorted(data)[0], f"is not a setting of {cls.__name__}")
        return cls(**kwargs)
