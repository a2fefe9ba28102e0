"""Synthetic fluorescence-like cell movies and nuclei volumes with exact ground truth (for samples,
demos and tests).

Only numpy and scipy: usable from tests, the CLI and napari's sample menu alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Look:
    """How a plain synthetic movie looks: cell semi-axes drawn from ``radius`` (px), a drift of about
    ``step`` px per frame, the ``background`` and the brightest cell's ``brightness`` (camera counts),
    and Gaussian ``noise`` (its standard deviation)."""

    radius: tuple[float, float] = (9.0, 15.0)
    step: float = 2.0
    background: float = 300.0
    brightness: float = 2500.0
    noise: float = 60.0


def synthetic_cells(
    n_frames: int = 8,
    size: tuple[int, int] = (128, 128),
    n_cells: int = 4,
    seed: int = 0,
    radius: tuple[float, float] = (9.0, 15.0),
    step: float = 2.0,
    background: float = 300.0,
    brightness: float = 2500.0,
    noise: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(T, Y, X)`` uint16 movie of drifting elliptic cells, and its labels.

    Cells start apart but move independently, so they may cross: one then hides part or all of the
    other (the lower label keeps a contested pixel). Each cell keeps its label (1..n_cells) in every
    frame; intensities are smooth inside a cell, with Gaussian blur and noise like a widefield image. Returns ``(image, labels)``
    with labels as uint16, both of shape ``(n_frames, *size)``.
    """
    look = Look(radius, step, background, brightness, noise)
    image, labels, _ = synthetic_dividing_cells(n_frames, size, n_cells, seed, divide=(), look=look)
    return image, labels


def synthetic_dividing_cells(
    n_frames: int = 20,
    size: tuple[int, int] = (256, 256),
    n_cells: int = 5,
    seed: int = 0,
    divide=((1, 8),),
    look: Look = Look(),
    split_speed: float = 1.5,
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Like :func:`synthetic_cells` (its appearance in ``look``), but some cells divide into two daughters.

    ``divide`` holds ``(cell_label, frame)`` pairs: that cell is last seen in ``frame - 1`` and
    from ``frame`` on two daughters replace it. Each daughter has 0.7x the parent's axes, sits on
    one side of the parent's centre along its long axis and drifts away from its sister at
    ``split_speed`` pixels per frame. Daughters get new labels n_cells+1, n_cells+2, ... in order of
    division frame (ties: in the order given) and keep them afterwards; a daughter may divide again.
    Labels never overlap: where cells meet, the lower label keeps the pixel.

    Returns ``(image, labels, parents)``: image and labels are uint16 arrays of shape
    ``(n_frames, *size)`` and ``parents`` is ``{daughter_label: parent_label}``. With
    ``divide=()`` the movie is exactly :func:`synthetic_cells` with the same arguments.
    """
    events = _check_divisions(divide, n_frames)
    radius, step, background, brightness, noise = (
        look.radius,
        look.step,
        look.background,
        look.brightness,
        look.noise,
    )
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    margin = radius[1] + 2
    n_total = n_cells + 2 * len(events)
    if n_total >= 2**16:
        raise ValueError(f"{n_total} labels do not fit uint16")
    # per-cell state, row i is label i + 1; daughters' rows are filled when they appear
    centres = np.zeros((n_total, 2))
    axes = np.zeros((n_total, 2))
    angles = np.zeros(n_total)
    velocity = np.zeros((n_total, 2))
    levels = np.zeros(n_total)
    centres[:n_cells] = _spread_centres(rng, n_cells, h, w, margin, 2.2 * radius[1])
    axes[:n_cells] = rng.uniform(*radius, size=(n_cells, 2))
    angles[:n_cells] = rng.uniform(0, np.pi, size=n_cells)
    velocity[:n_cells] = rng.normal(0, step, size=(n_cells, 2))
    levels[:n_cells] = rng.uniform(0.6, 1.0, size=n_cells) * brightness
    alive = np.zeros(n_total, dtype=bool)
    alive[:n_cells] = True
    lo, hi = np.array([margin, margin]), np.array([h - margin, w - margin])
    parents: dict[int, int] = {}
    next_row = n_cells

    image = np.empty((n_frames, h, w), dtype=np.uint16)
    labels = np.zeros((n_frames, h, w), dtype=np.uint16)
    for t in range(n_frames):
        for label, _ in (e for e in events if e[1] == t):
            p = label - 1
            if not 0 <= p < n_total or not alive[p]:
                raise ValueError(f"divide: cell {label} does not exist in frame {t - 1}")
            direction, long_axis = _long_axis(axes[p], angles[p] + 0.05 * t)
            for k, sign in ((next_row, 1.0), (next_row + 1, -1.0)):
                centres[k] = np.clip(
                    centres[p] + sign * (0.7 * long_axis + 0.5) * direction, lo, hi
                )
                axes[k] = 0.7 * axes[p]
                angles[k] = angles[p]
                velocity[k] = velocity[p] + sign * split_speed * direction
                levels[k] = levels[p]
                alive[k] = True
                parents[k + 1] = label
            alive[p] = False
            next_row += 2
        signal = np.zeros((h, w), dtype=np.float32)
        for i in np.flatnonzero(alive):
            _paint_ellipse(
                labels[t],
                signal,
                yy,
                xx,
                centres[i],
                axes[i],
                angles[i] + 0.05 * t,
                levels[i],
                i + 1,
            )
        signal = ndimage.gaussian_filter(signal, 1.2)
        frame = background + signal + rng.normal(0, noise, size=(h, w))
        image[t] = np.clip(frame, 0, 65535).astype(np.uint16)
        rows = np.flatnonzero(alive)
        moving = velocity[rows]
        centres[rows] = _move(centres[rows], moving, h, w, margin, rng)
        velocity[rows] = moving
    return image, labels, parents


PAIRS = Look(
    radius=(9.0, 13.0)
)  # the look of synthetic_passing_pairs' cells (its step is ``speed``)


def synthetic_passing_pairs(
    n_frames: int = 24,
    size: tuple[int, int] = (384, 384),
    n_pairs: int = 8,
    seed: int = 0,
    speed: float = 2.5,
    gap: float = -1.0,
    approach: float = 0.0,
    look: Look = PAIRS,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(T, Y, X)`` uint16 movie of look-alike cell pairs that pass each other side by side, and
    its labels: the case where SAM 2's memory drifts onto a touching neighbour and swaps identities.

    The frame is cut into ``n_pairs`` lanes, each about twice as long as it is wide. In each lane
    two cells of the same size, shape, brightness and texture (labels ``2k + 1`` and ``2k + 2``)
    move in opposite directions along the lane, about ``speed`` px per frame each (0.8-1.2 times it
    per pair, with a small random walk), long axis along the motion, and pass each other at a random
    frame in the middle third of the movie. Where they pass, the edges facing each other are ``gap``
    px apart (negative: they overlap by that much and touch; the lower label keeps a contested
    pixel).
    ``approach`` > 0 makes the paths converge and part again (the facing edges are
    ``gap + approach * |t - t_pass|`` apart), instead of running parallel. Semi-axes are drawn from
    ``look.radius``; brightness, blur and noise as in :func:`synthetic_cells`. Returns ``(image, labels)``.

    Raises ValueError when a lane is too small for its cells' paths over ``n_frames``.
    """
    if n_pairs < 1 or n_frames < 2:
        raise ValueError(f"need n_pairs >= 1 and n_frames >= 2, got {n_pairs} and {n_frames}")
    radius, background, brightness, noise = (
        look.radius,
        look.background,
        look.brightness,
        look.noise,
    )
    rng = np.random.default_rng(seed)
    h, w = size
    # lanes about twice as long as they are wide
    cols = max(range(1, n_pairs + 1), key=lambda n: min(h / -(-n_pairs // n), w / n / 2))
    rows = -(-n_pairs // cols)
    lane_h, lane_w = h / rows, w / cols
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.arange(n_frames, dtype=float)
    cells = []  # (label, centres (T, 2), axes (2,), angle, level)
    for k in range(n_pairs):
        r, c = divmod(k, cols)
        centre = np.array([(r + 0.5) * lane_h, (c + 0.5) * lane_w]) + rng.normal(0, 2.0, 2)
        angle = rng.uniform(-0.15, 0.15)  # the lane's direction, radians from the x axis
        along = np.array([np.sin(angle), np.cos(angle)])
        across = np.array([np.cos(angle), -np.sin(angle)])
        axes = np.sort(rng.uniform(*radius, size=2))[::-1]  # (along, across) semi-axes
        t_pass = rng.uniform(n_frames / 3, 2 * n_frames / 3)
        v = speed * rng.uniform(0.8, 1.2)
        level = rng.uniform(0.6, 1.0) * brightness
        sign = rng.choice([-1.0, 1.0])  # which of the two runs on which side
        half = (2 * axes[1] + gap + approach * np.abs(t - t_pass)) / 2
        for j, s in ((2 * k + 1, sign), (2 * k + 2, -sign)):
            walk = np.cumsum(rng.normal(0, 0.15, (n_frames, 2)), axis=0)
            path = (
                centre + np.outer(s * half, across) + np.outer(s * v * (t - t_pass), along) + walk
            )
            reach = np.abs(path - centre).max(0) + axes[0] + 2
            if reach[0] > lane_h / 2 or reach[1] > lane_w / 2:
                raise ValueError(
                    f"{n_pairs} pairs passing at {speed} px per frame over {n_frames} "
                    f"frames do not fit a {h}x{w} frame: use fewer pairs or frames, "
                    "or a larger frame"
                )
            cells.append((j, path, axes, angle, level))
    image = np.empty((n_frames, h, w), dtype=np.uint16)
    labels = np.zeros((n_frames, h, w), dtype=np.uint16)
    for f in range(n_frames):
        signal = np.zeros((h, w), dtype=np.float32)
        for label, path, axes, angle, level in cells:
            _paint_ellipse(labels[f], signal, yy, xx, path[f], axes, angle, level, label)
        signal = ndimage.gaussian_filter(signal, 1.2)
        frame = background + signal + rng.normal(0, noise, size=(h, w))
        image[f] = np.clip(frame, 0, 65535).astype(np.uint16)
    return image, labels


def synthetic_volume(
    shape: tuple[int, int, int] = (32, 128, 128),
    n_cells: int = 4,
    seed: int = 0,
    radius: tuple[float, float] = (10.0, 16.0),
    z_ratio: float = 0.5,
    blur: tuple[float, float] = (2.0, 0.8),
    background: float = 300.0,
    brightness: float = 2500.0,
    noise: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(Z, Y, X)`` uint16 stack of ellipsoidal nuclei, and its exact uint16 labels (1..n_cells).

    Lateral semi-axes are drawn from ``radius`` (pixels); the axial one is ``z_ratio`` times a
    lateral-size draw, as for a z-step larger than the pixel size. Each nucleus is turned by a
    random angle in the (Y, X) plane. The signal is blurred with Gaussian sigma ``blur = (axial,
    lateral)`` voxels (axial stronger, like a widefield or confocal stack) and Gaussian noise is
    added. Returns ``(image, labels)``, both of shape ``shape``.
    """
    rng = np.random.default_rng(seed)
    d, h, w = shape
    zz, yy, xx = np.mgrid[0:d, 0:h, 0:w].astype(np.float32)
    margin = radius[1] + 2
    centres_yx = _spread_centres(rng, n_cells, h, w, margin, 2.2 * radius[1])
    axes = rng.uniform(*radius, size=(n_cells, 3))
    axes[:, 0] *= z_ratio
    z_margin = min(radius[1] * z_ratio + 1, d / 2)
    centres_z = rng.uniform(z_margin, d - z_margin, size=n_cells)
    angles = rng.uniform(0, np.pi, size=n_cells)
    levels = rng.uniform(0.6, 1.0, size=n_cells) * brightness

    labels = np.zeros(shape, dtype=np.uint16)
    signal = np.zeros(shape, dtype=np.float32)
    for i in range(n_cells):
        (cy, cx), cz = centres_yx[i], centres_z[i]
        ca, sa = np.cos(angles[i]), np.sin(angles[i])
        dz, dy, dx = zz - cz, yy - cy, xx - cx
        s = dz / axes[i, 0]
        u = (dx * ca + dy * sa) / axes[i, 1]
        v = (-dx * sa + dy * ca) / axes[i, 2]
        free = (s * s + u * u + v * v <= 1.0) & (labels == 0)
        labels[free] = i + 1
        signal[free] = levels[i] * (
            0.85 + 0.15 * np.cos(3 * u[free]) * np.cos(3 * v[free]) * np.cos(2 * s[free])
        )
    signal = ndimage.gaussian_filter(signal, (blur[0], blur[1], blur[1]))
    volume = background + signal + rng.normal(0, noise, size=shape)
    return np.clip(volume, 0, 65535).astype(np.uint16), labels


def _check_divisions(divide, n_frames: int) -> list[tuple[int, int]]:
    """``divide`` as a list of ``(label, frame)`` int pairs sorted by frame (stable), after checks."""
    events = []
    for entry in divide:
        if len(entry) != 2:
            raise ValueError(f"divide: expected (cell_label, frame) pairs, got {entry!r}")
        label, frame = int(entry[0]), int(entry[1])
        if label < 1 or not 1 <= frame < n_frames:
            raise ValueError(
                f"divide: need cell_label >= 1 and 1 <= frame < {n_frames}, got {entry!r}"
            )
        events.append((label, frame))
    return sorted(events, key=lambda e: e[1])


def _long_axis(axes: np.ndarray, angle: float) -> tuple[np.ndarray, float]:
    """Unit (dy, dx) vector (2,) along an ellipse's long axis, and that semi-axis length.

    ``axes`` (2,) are the semi-axes along the directions ``angle`` and ``angle + pi/2`` as used by
    :func:`_paint_ellipse`.
    """
    ca, sa = np.cos(angle), np.sin(angle)
    if axes[0] >= axes[1]:
        return np.array([sa, ca]), float(axes[0])
    return np.array([ca, -sa]), float(axes[1])


def _paint_ellipse(
    labels: np.ndarray,
    signal: np.ndarray,
    yy: np.ndarray,
    xx: np.ndarray,
    centre: np.ndarray,
    axes: np.ndarray,
    angle: float,
    level: float,
    label: int,
) -> None:
    """Draw one textured ellipse into ``labels`` (Y, X) and ``signal`` (Y, X) in place.

    ``yy``, ``xx`` (Y, X) are pixel coordinates, ``centre`` (2,) is (y, x) and ``axes`` (2,) the
    semi-axes along ``angle`` and ``angle + pi/2`` (radians, from the x axis). Only pixels whose
    label is still 0 are drawn: the first cell painted keeps a contested pixel.
    """
    cy, cx = centre
    ca, sa = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * ca + dy * sa) / axes[0]
    v = (-dx * sa + dy * ca) / axes[1]
    free = (u * u + v * v <= 1.0) & (labels == 0)
    labels[free] = label
    signal[free] = level * (0.85 + 0.15 * np.cos(3 * u[free]) * np.cos(3 * v[free]))


def _spread_centres(rng, n, h, w, margin, min_dist):
    """``n`` random (y, x) centres, shape (n, 2), at least ``min_dist`` apart and ``margin`` from the edges."""
    centres: list[np.ndarray] = []
    for _ in range(1000 * n):
        c = rng.uniform([margin, margin], [h - margin, w - margin])
        if all(np.hypot(*(c - o)) >= min_dist for o in centres):
            centres.append(c)
            if len(centres) == n:
                break
    if len(centres) < n:
        raise ValueError(f"cannot place {n} cells of this size in a {h}x{w} frame")
    return np.array(centres)


def _move(centres, velocity, h, w, margin, rng):
    """Next (y, x) centres (N, 2) after one step with a random jitter; ``velocity`` (N, 2) is
    reversed in place where a cell would leave the ``margin`` box (it bounces)."""
    nxt = centres + velocity + rng.normal(0, 0.3, size=centres.shape)
    lo, hi = np.array([margin, margin]), np.array([h - margin, w - margin])
    bounce = (nxt < lo) | (nxt > hi)
    velocity[bounce] *= -1
    return np.clip(nxt, lo, hi)


def synthetic_microscopy(
    n_frames: int = 16,
    size: tuple[int, int] = (192, 192),
    seed: int = 0,
    n_cells: int | None = None,
    radius: tuple[float, float] | None = None,
    p_divide: float = 0.015,
    p_enter: float = 0.06,
    p_exit: float = 0.3,
    visibility: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """A varied fluorescence-like ``(T, Y, X)`` uint16 movie with exact labels, for training and tests.

    Unlike :func:`synthetic_dividing_cells`, the look is drawn at random from ``seed``: cell
    outlines (ellipses with wavy, lobed edges), textures (smooth, granular, bright rim, bright
    spots), brightness from dim to bright, background level and gradient, blur, shot and read
    noise, photobleaching and a slow illumination drift. Cells move and turn, may touch (the
    lower label keeps a contested pixel), divide (``p_divide`` per cell and frame), enter from
    the border (``p_enter`` per frame) and leave through it (a fraction ``p_exit`` of cells
    does not bounce off the border). ``n_cells`` and ``radius`` (semi-axis range in pixels)
    are drawn too when None. ``visibility`` scales the cells' contrast (near 0: hidden in the noise,
    so that only a prompt can tell where a cell is).

    Returns ``(image, labels, parents)``: uint16 arrays of shape ``(n_frames, *size)``, labels
    unique per cell over the movie (daughters get new ones), ``parents`` ``{daughter: parent}``.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    if radius is None:
        r0 = rng.uniform(5.0, 16.0)
        radius = (r0, r0 * rng.uniform(1.2, 1.8))
    if n_cells is None:
        room = h * w / (np.pi * (2.2 * radius[1]) ** 2)
        n_cells = int(rng.integers(1, max(2, int(room)) + 1))
    look = _draw_look(rng)
    look["contrast"] *= visibility
    cells: list[dict] = []
    next_label = 1
    margin = radius[1] + 2
    centres = []
    while n_cells and not len(centres):
        try:
            centres = _spread_centres(rng, n_cells, h, w, margin, 1.9 * radius[1])
        except ValueError:  # crowded: as many as fit
            n_cells -= 1
    for centre in centres:
        cells.append(_new_cell(rng, next_label, centre, radius, look, p_exit))
        next_label += 1

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    background = look["background"] * (
        1
        + look["gradient"]
        * ((yy - h / 2) * look["grad_dir"][0] + (xx - w / 2) * look["grad_dir"][1])
        / max(h, w)
    )
    return _simulate(
        rng,
        cells,
        next_label,
        n_frames,
        Scene((yy, xx), background, radius, margin),
        look,
        (p_enter, p_divide, p_exit),
    )


class Scene(NamedTuple):
    """Where a simulated movie plays: ``grid`` (yy, xx) of the frame, its ``background`` (Y, X), the
    ``radius`` range of the cells and the ``margin`` they keep from the edges."""

    grid: tuple[np.ndarray, np.ndarray]
    background: np.ndarray
    radius: tuple[float, float]
    margin: float


def _simulate(
    rng,
    cells: list[dict],
    next_label: int,
    n_frames: int,
    scene: Scene,
    look: dict,
    odds: tuple[float, float, float],
    decorate=None,
    repel=None,
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Run a movie of ``cells`` (dicts from :func:`_new_cell`): entering (``odds[0]`` per frame), dividing
    (``odds[1]`` per cell and frame) and leaving (a cell's ``leaves``, ``odds[2]`` of new ones) cells,
    painted over ``background`` (Y, X) with blur, bleaching, flicker, shot and read noise.
    ``grid`` is ``(yy, xx)``; ``decorate(cell)`` completes each entering cell; ``repel`` is passed to
    :func:`_step_cells`. Returns ``(image, labels, parents)`` as :func:`synthetic_microscopy`."""
    p_enter, p_divide, p_exit = odds
    (yy, xx), background, radius, margin = scene
    h, w = yy.shape
    parents: dict[int, int] = {}
    image = np.empty((n_frames, h, w), dtype=np.uint16)
    labels = np.zeros((n_frames, h, w), dtype=np.uint16)
    for t in range(n_frames):
        if t and rng.random() < p_enter:
            cells.append(_entering_cell(rng, next_label, h, w, radius, look, p_exit))
            if decorate is not None:
                decorate(cells[-1])
            next_label += 1
        for cell in [c for c in cells if t and c["age"] > 4 and rng.random() < p_divide]:
            cells.remove(cell)
            direction, long_axis = _long_axis(cell["axes"], cell["angle"])
            for sign in (1.0, -1.0):
                child = dict(
                    cell,
                    label=next_label,
                    age=0,
                    axes=0.72 * cell["axes"],
                    centre=cell["centre"] + sign * 0.7 * long_axis * direction,
                    velocity=cell["velocity"] + sign * 1.2 * direction,
                )
                cells.append(child)
                parents[next_label] = cell["label"]
                next_label += 1
        signal = np.zeros((h, w), dtype=np.float32)
        for cell in sorted(cells, key=lambda c: c["label"]):
            _paint_cell(labels[t], signal, yy, xx, cell)
        signal = ndimage.gaussian_filter(signal, look["blur"]) * np.exp(-look["bleach"] * t)
        drift = 1 + look["flicker"] * np.sin(0.3 * t + look["phase"])
        expected = np.maximum(background * drift + signal, 0)
        frame = rng.poisson(expected / look["gain"]) * look["gain"] + rng.normal(
            0, look["read_noise"], (h, w)
        )
        image[t] = np.clip(frame, 0, 65535).astype(np.uint16)
        cells = _step_cells(rng, cells, h, w, margin, repel)
    return image, labels, parents


def _draw_look(rng) -> dict:
    """Imaging conditions of one synthetic movie."""
    background = rng.uniform(100, 1500)
    return {
        "background": background,
        "contrast": background * rng.uniform(0.4, 6.0),
        "gradient": rng.uniform(0, 0.6),
        "grad_dir": rng.normal(size=2) / np.sqrt(2),
        "blur": rng.uniform(0.6, 2.2),
        "gain": rng.uniform(0.5, 8.0),
        "read_noise": rng.uniform(2, 60),
        "bleach": rng.uniform(0, 0.03),
        "flicker": rng.uniform(0, 0.05),
        "phase": rng.uniform(0, 2 * np.pi),
        "textures": rng.choice(
            ["smooth", "granular", "rim", "spots"], size=rng.integers(1, 3), replace=False
        ),
    }


def _new_cell(rng, label, centre, radius, look, p_exit) -> dict:
    n_harm = 3
    return {
        "label": label,
        "age": 5,
        "centre": np.asarray(centre, dtype=float),
        "axes": rng.uniform(*radius, size=2),
        "angle": rng.uniform(0, np.pi),
        "spin": rng.normal(0, 0.04),
        "velocity": rng.normal(0, rng.uniform(0.3, 2.5), size=2),
        "level": look["contrast"] * rng.uniform(0.25, 1.0),
        "wobble": rng.uniform(0, 0.12, size=n_harm) * (rng.random() < 0.7),
        "wobble_phase": rng.uniform(0, 6.3, n_harm),
        "texture": rng.choice(look["textures"]),
        "tex_freq": rng.uniform(3, 9, size=(3, 2)) * rng.choice([-1, 1], (3, 2)),
        "tex_phase": rng.uniform(0, 6.3, 3),
        "spots": rng.uniform(-0.5, 0.5, size=(int(rng.integers(1, 4)), 2)),
        "leaves": rng.random() < p_exit,
    }


def _entering_cell(rng, label, h, w, radius, look, p_exit) -> dict:
    """A cell just outside one border, moving in."""
    side = rng.integers(4)
    along = rng.uniform(0.15, 0.85)
    r = radius[1]
    centre, inward = {
        0: ((-0.6 * r, along * w), (1, 0)),
        1: ((h + 0.6 * r, along * w), (-1, 0)),
        2: ((along * h, -0.6 * r), (0, 1)),
        3: ((along * h, w + 0.6 * r), (0, -1)),
    }[int(side)]
    cell = _new_cell(rng, label, centre, radius, look, p_exit)
    cell["velocity"] = np.array(inward, dtype=float) * rng.uniform(1.0, 3.0) + rng.normal(0, 0.5, 2)
    cell["age"] = 0
    return cell


def _paint_cell(labels, signal, yy, xx, cell) -> None:
    """Draw one cell (outline, texture) into ``labels`` and ``signal`` in place, within its bounding box."""
    h, w = labels.shape
    (cy, cx), reach = cell["centre"], float(cell["axes"].max()) * (1 + cell["wobble"].sum()) + 1
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, h)
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, w)
    if y0 >= y1 or x0 >= x1:
        return
    ca, sa = np.cos(cell["angle"]), np.sin(cell["angle"])
    dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
    u = (dx * ca + dy * sa) / cell["axes"][0]
    v = (-dx * sa + dy * ca) / cell["axes"][1]
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    edge = 1 + sum(
        a * np.cos((k + 2) * theta + p)
        for k, (a, p) in enumerate(zip(cell["wobble"], cell["wobble_phase"]))
    )
    box = labels[y0:y1, x0:x1]
    inside = (rho <= edge) & (box == 0)
    r = rho / edge
    kind = cell["texture"]
    if kind == "granular":
        tex = 0.75 + 0.25 * np.prod(
            [np.cos(f[0] * u + f[1] * v + p) for f, p in zip(cell["tex_freq"], cell["tex_phase"])],
            axis=0,
        )
    elif kind == "rim":
        tex = 0.45 + 0.8 * np.exp(-(((r - 0.85) / 0.15) ** 2))
    elif kind == "spots":
        tex = 0.7 + sum(
            0.9 * np.exp(-((u - s[0]) ** 2 + (v - s[1]) ** 2) / 0.03) for s in cell["spots"]
        )
    elif kind == "image":  # a patch of a real picture that moves and turns with the cell
        picture, (oy, ox), zoom = cell["picture"], cell["picture_origin"], cell["picture_zoom"]
        iy = (oy + v * zoom).astype(np.int64) % picture.shape[0]
        ix = (ox + u * zoom).astype(np.int64) % picture.shape[1]
        tex = 0.4 + 1.2 * picture[iy, ix]
    else:
        tex = 1 - 0.3 * r**2
    box[inside] = cell["label"]
    signal[y0:y1, x0:x1][inside] = cell["level"] * tex[inside]


def _step_cells(rng, cells, h, w, margin, repel=None) -> list[dict]:
    """Move, turn and age the cells (mild repulsion between neighbours, or ``repel(cells)``); drop those that
    have left the frame."""
    if repel is not None:
        repel(cells)
    for i, a in enumerate(cells if repel is None else ()):
        for b in cells[i + 1 :]:
            gap = a["centre"] - b["centre"]
            dist = np.hypot(*gap) + 1e-6
            reach = 0.8 * (a["axes"].mean() + b["axes"].mean())
            if dist < reach:
                push = 0.3 * (reach - dist) * gap / dist
                a["centre"], b["centre"] = a["centre"] + push, b["centre"] - push
    kept = []
    lo, hi = np.array([margin, margin]), np.array([h - margin, w - margin])
    for cell in cells:
        cell["velocity"] = 0.9 * cell["velocity"] + rng.normal(0, 0.4, 2)
        cell["centre"] = cell["centre"] + cell["velocity"]
        cell["angle"] += cell["spin"]
        cell["age"] += 1
        if not cell["leaves"] and cell["age"] > 3:
            bounce = (cell["centre"] < lo) | (cell["centre"] > hi)
            cell["velocity"][bounce] = np.abs(cell["velocity"][bounce]) * np.where(
                cell["centre"][bounce] < lo[bounce], 1, -1
            )
        far = float(cell["axes"].max()) * 1.5
        if -far < cell["centre"][0] < h + far and -far < cell["centre"][1] < w + far:
            kept.append(cell)
    return kept
