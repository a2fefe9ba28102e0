"""One categorical palette for every place an object's colour shows (labels, tracks, object list,
click borders): object id -> RGBA, with daughters drawn as lighter or darker shades of their mother.
Pure numpy."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Daughters move this far in CIE-Lab from their mother (lighter for the first, darker for the
# second); it stays under half the palette's smallest colour distance, so a daughter is nearer its
# mother than any other root colour (triangle inequality).
DAUGHTER_STEP = 11.0
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


def rgb_to_lab(rgb) -> np.ndarray:
    """CIE-Lab (D65) of sRGB colours in [0, 1], shape (..., 3)."""
    c = np.asarray(rgb, float)[..., :3]
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab) -> np.ndarray:
    """sRGB in [0, 1] (clipped to the gamut) of CIE-Lab colours, shape (..., 3)."""
    lab = np.asarray(lab, float)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * np.array(
        [0.95047, 1.0, 1.08883]
    )
    m = np.array(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ]
    )
    lin = np.clip(xyz @ m.T, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


@lru_cache(maxsize=1)
def root_colors() -> np.ndarray:
    """(N, 3) RGB colours of objects without a mother, in id order: chosen greedily from saturated,
    mid-to-bright candidates so that each next colour is as far (CIE-Lab distance) from all earlier
    ones as possible. Greys and near-black never occur (saturation >= 0.6, value >= 0.7, Lab
    lightness 45-80, which leaves room for lighter and darker daughters)."""
    cands = np.array(
        [_hsv(h / 72, s, v) for h in range(72) for s in (0.6, 0.8, 1.0) for v in (0.7, 0.85, 1.0)]
    )
    # room for daughter shades
    cands = cands[(rgb_to_lab(cands)[:, 0] >= 45) & (rgb_to_lab(cands)[:, 0] <= 80)]
    lab = rgb_to_lab(cands)
    # a clear red
    first = int(np.argmin(np.abs(rgb_to_lab(cands) - rgb_to_lab([1.0, 0.15, 0.15])).sum(1)))
    chosen, nearest = [first], np.linalg.norm(lab - lab[first], axis=1)
    for _ in range(39):
        nxt = int(np.argmax(nearest))
        chosen.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[nxt], axis=1))
    return cands[chosen]


def object_color(
    obj: int, parents: dict[int, int] | None = None
) -> tuple[float, float, float, float]:
    """RGBA in [0, 1] of object ``obj`` (ids from 1); ``parents`` maps a daughter to its mother. A
    daughter is its mother's colour shifted in CIE-Lab lightness: by +DAUGHTER_STEP, -DAUGHTER_STEP,
    +2·DAUGHTER_STEP, ... for its daughters in id order (skipping shades too dark or too pale to
    see)."""
    parents = parents or {}
    mother = parents.get(obj)
    if mother is None or mother == obj:
        base = root_colors()
        return (*(float(v) for v in base[(int(obj) - 1) % len(base)]), 1.0)
    sisters = sorted(d for d, m in parents.items() if m == mother)
    k = sisters.index(obj) if obj in sisters else 0
    lab = rgb_to_lab(object_color(mother, {d: m for d, m in parents.items() if d != obj}))
    # lighter, darker, then further out; shades too dark or too pale to see are skipped
    steps = [DAUGHTER_STEP * (i // 2 + 1) * (1 if i % 2 == 0 else -1) for i in range(2 * k + 4)]
    light = [lab[0] + s for s in steps if 25 <= lab[0] + s <= 92][k]
    return (*(float(v) for v in lab_to_rgb([light, lab[1], lab[2]])), 1.0)


def color_dict(ids, parents: dict[int, int] | None = None) -> dict:
    """``{id: RGBA}`` for ``ids`` (0 transparent), plus ``None``: the colour of ids not listed."""
    colors = {int(i): object_color(int(i), parents) for i in ids if int(i) != 0}
    return {None: (0.6, 0.6, 0.6, 1.0), 0: TRANSPARENT, **colors}


def labels_colormap(ids, parents: dict[int, int] | None = None):
    """A napari label colormap giving each of ``ids`` (and ids 1..50, for labels painted by hand)
    its palette colour."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(
        color_dict=color_dict(set(range(1, 51)) | {int(i) for i in ids}, parents)
    )


def tracks_coloring(track_ids, parents: dict[int, int] | None = None):
    """``(values, colormap)`` for a napari Tracks layer whose vertices belong to ``track_ids`` (N,):
    napari maps a property through a custom colormap without scaling it, and colormaps span [0, 1],
    so each id is scaled to [0, 1] here and the colormap holds its palette colour over a band around
    that value."""
    from napari.utils.colormaps import Colormap

    track_ids = np.asarray(track_ids, int)
    ids = sorted({int(i) for i in track_ids})
    colors = [object_color(i, parents) for i in ids]
    if len(ids) == 1:
        return np.zeros(len(track_ids)), Colormap(
            colors=[colors[0], colors[0]], controls=[0.0, 1.0], name="sam2 tracks"
        )
    lo, hi = ids[0], ids[-1]
    controls = [0.0] + [((a + b) / 2 - lo) / (hi - lo) for a, b in zip(ids[:-1], ids[1:])] + [1.0]
    cmap = Colormap(colors=colors, controls=controls, interpolation="zero", name="sam2 tracks")
    return (track_ids - lo) / (hi - lo), cmap
