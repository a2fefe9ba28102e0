"""Warnings that name a result-degrading setting or input (torch-free; the CLI and the widget show them)."""

from __future__ import annotations

import warnings


class QualityWarning(UserWarning):
    """A setting or an input that makes results worse than they could be; the message names the better choice."""


class RandomWeightsWarning(QualityWarning):
    """The model runs on random weights: its masks mean nothing (plumbing and tests only)."""


def warn_quality(message: str, category: type[QualityWarning] = QualityWarning) -> None:
    """Issue ``message`` as a :class:`QualityWarning` (or a subclass), attributed to the caller's caller."""
    warnings.warn(message, category, stacklevel=3)
