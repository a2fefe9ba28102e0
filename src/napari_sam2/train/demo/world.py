"""Demo v2 training data: cells of radius 5-35 px, 1 to 60 per 256 x 256 field, and real-picture textures.

:func:`synthetic_world` extends :func:`napari_sam2.synthetic.synthetic_microscopy` (same cell model,
motion, divisions, entering and leaving, noise) with what the demo v1 never saw: small and large
cells at native scale, crowded fields where neighbours touch and overlap (the lower label keeps a
contested pixel, as if on top), dim and dark cells, structured backgrounds, and cell interiors and
backgrounds cut from photographs that scikit-image ships (no download; :func:`real_textures`).
Only numpy, scipy and (optionally) scikit-image: it runs in data-loading worker processes.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from ...synthetic import Scene, _draw_look, _new_cell, _simulate

# scikit-image's bundled pictures (in its wheel, no download): grey or colour photographs and textures.
# HELD_OUT are the real images the benchmarks test on; demo v2 was trained with them (its real-image
# numbers are optimistic), every later recipe leaves them out.
HELD_OUT = ("coins", "immunohistochemistry")
PICTURES = (
    "camera",
    "moon",
    "text",
    "brick",
    "grass",
    "gravel",
    "cell",
    "page",
    "clock",
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
)
MAX_RADIUS = 35.0
MIN_RADIUS = 5.0
MAX_CELLS_256 = 60  # cells per 256 x 256 px of field at most


@functools.lru_cache(maxsize=1)
def real_textures() -> tuple[np.ndarray, ...]:
    """Grey ``(H, W)`` float32 pictures in [0, 1] from :data:`PICTURES`; those that cannot be read
    (no scikit-image, or a version that would download them) are left out, so possibly none."""
    try:
        from skimage import data
    except ImportError:
        return ()
    out = []
    for name in PICTURES:
        try:
            picture = np.asarray(getattr(data, name)(), dtype=np.float32)
        except Exception:  # not bundled in this version (it would need pooch and the network)
            continue
        if picture.ndim == 3:
            picture = picture[..., :3].mean(-1)
        lo, hi = np.percentile(picture, (1, 99))
        out.append(np.clip((picture - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32))
    return tuple(out)


def place_centres(
    rng: np.random.Generator, n: int, h: int, w: int, margin: float, min_dist: float
) -> np.ndarray:
    """Up to ``n`` random (y, x) centres ``(k, 2)``, at least ``min_dist`` apart and ``margin`` from the
    edges (greedy over 40 n candidates: in a crowded field, as many as fit; at least one)."""
    lo = np.array([min(margin, h / 2), min(margin, w / 2)])
    candidates = rng.uniform(lo, [h - lo[0], w - lo[1]], size=(40 * n, 2))
    kept = [candidates[0]]
    for c in candidates[1:]:
        if len(kept) == n:
            break
        if np.min(np.hypot(*(np.asarray(kept) - c).T)) >= min_dist:
            kept.append(c)
    return np.asarray(kept)


def repel(cells: list[dict]) -> None:
    """Push overlapping neighbours apart a little (all pairs at once; in place)."""
    if len(cells) < 2:
        return
    centres = np.array([c["centre"] for c in cells])
    size = np.array([c["axes"].mean() for c in cells])
    gap = centres[:, None] - centres[None]
    dist = np.hypot(gap[..., 0], gap[..., 1]) + 1e-6
    reach = 0.8 * (size[:, None] + size[None])
    strength = np.where(
        (dist < reach) & ~np.eye(len(cells), dtype=bool), 0.3 * (reach - dist) / dist, 0.0
    )
    push = (strength[..., None] * gap).sum(1)
    for cell, p in zip(cells, push):
        cell["centre"] = cell["centre"] + p


def _patch(rng: np.random.Generator, picture: np.ndarray, h: int, w: int) -> np.ndarray:
    """A random ``(h, w)`` window of ``picture`` (mirrored beyond its edges where it is smaller)."""
    tiled = np.pad(
        picture,
        ((0, max(0, h - picture.shape[0])), (0, max(0, w - picture.shape[1]))),
        mode="symmetric",
    )
    y0 = int(rng.integers(0, tiled.shape[0] - h + 1))
    x0 = int(rng.integers(0, tiled.shape[1] - w + 1))
    return tiled[y0 : y0 + h, x0 : x0 + w]


def _background(rng: np.random.Generator, look: dict, grid, pictures) -> np.ndarray:
    """Background level with a gradient and, in most movies, structure: smooth blobs or a blurred picture."""
    yy, xx = grid
    h, w = yy.shape
    ramp = ((yy - h / 2) * look["grad_dir"][0] + (xx - w / 2) * look["grad_dir"][1]) / max(h, w)
    background = look["background"] * (1 + look["gradient"] * ramp)
    kind = rng.choice(
        ["flat", "blobs", "picture"], p=[0.25, 0.35, 0.4] if pictures else [0.4, 0.6, 0.0]
    )
    if kind == "flat":
        return background
    if kind == "blobs":
        field = ndimage.gaussian_filter(
            rng.normal(size=(h, w)).astype(np.float32), rng.uniform(3, 25)
        )
    else:
        field = ndimage.gaussian_filter(
            _patch(rng, pictures[int(rng.integers(len(pictures)))], h, w), rng.uniform(0, 2.5)
        )
    field = (field - field.mean()) / max(float(field.std()), 1e-6)
    # weaker than the cells' contrast, so that cells stay visible on it
    strength = rng.uniform(0.05, 0.3) * min(look["background"], abs(look["contrast"]))
    return np.maximum(background + strength * field, 0)


def _decorator(rng: np.random.Generator, pictures):
    """A function giving a cell whose texture is "image" a picture patch that moves with it."""

    def decorate(cell: dict) -> None:
        if cell["texture"] == "image":
            cell["picture"] = pictures[int(rng.integers(len(pictures)))]
            cell["picture_origin"] = rng.uniform(0, 1000, 2)
            cell["picture_zoom"] = float(cell["axes"].mean() * rng.uniform(0.4, 2.0))

    return decorate


def synthetic_world(
    n_frames: int = 12,
    size: tuple[int, int] = (256, 256),
    seed: int = 0,
    radius: tuple[float, float] | None = None,
    n_cells: int | None = None,
    pictures: tuple[np.ndarray, ...] | None = None,
    p_divide: float = 0.01,
    p_enter: float = 0.1,
    p_exit: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """A ``(T, Y, X)`` uint16 movie of cells at native scale with exact labels, drawn at random from ``seed``.

    ``radius``: semi-axis range in pixels (default: a random range within 5-35, small cells as likely
    as large ones on a log scale). ``n_cells``: default a random crowding, sparse (up to 8 % of the
    field covered), medium or crowded (30-65 %), at most 60 cells per 256 x 256 px. Cells may start
    overlapping (down to 1.2 radii apart). ``pictures``: grey [0, 1] textures (default
    :func:`real_textures`; empty for synthetic looks only). Returns ``(image, labels, parents)`` like
    :func:`~napari_sam2.synthetic.synthetic_microscopy`.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    pictures = real_textures() if pictures is None else tuple(pictures)
    if radius is None:
        r0 = float(np.exp(rng.uniform(np.log(MIN_RADIUS), np.log(0.8 * MAX_RADIUS))))
        radius = (r0, min(r0 * rng.uniform(1.05, 1.35), MAX_RADIUS))
    mean_r = float(np.mean(radius))
    if n_cells is None:
        coverage = [rng.uniform(0.0, 0.08), rng.uniform(0.08, 0.3), rng.uniform(0.3, 0.65)][
            int(rng.integers(3))
        ]
        n_cells = int(round(coverage * h * w / (np.pi * mean_r**2)))
    n_cells = int(np.clip(n_cells, 1, max(1, round(MAX_CELLS_256 * h * w / 256**2))))
    look = _draw_look(rng)
    if rng.random() < 0.35:
        look["contrast"] *= rng.uniform(0.2, 0.6)  # dim
    if rng.random() < 0.1:
        look["contrast"] = -look["background"] * rng.uniform(
            0.3, 0.7
        )  # dark cells on a bright field
    if pictures and rng.random() < 0.5:
        look["textures"] = np.append(look["textures"][: int(rng.integers(0, 2))], "image")
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    background = _background(rng, look, grid, pictures)
    margin = 0.5 * radius[1]
    centres = place_centres(rng, n_cells, h, w, margin, mean_r * rng.uniform(1.2, 2.0))
    decorate = _decorator(rng, pictures)
    cells = []
    for label, centre in enumerate(centres, 1):
        cells.append(_new_cell(rng, label, centre, radius, look, p_exit))
        decorate(cells[-1])
    return _simulate(
        rng,
        cells,
        len(cells) + 1,
        n_frames,
        Scene(tuple(grid), background, radius, margin),
        look,
        (p_enter, p_divide, p_exit),
        decorate=decorate,
        repel=repel,
    )
