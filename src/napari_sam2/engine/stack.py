"""Choosing the tracked axis and channel of a microscopy array, lazily (no frame is read here)."""

from __future__ import annotations

import numpy as np

from ..predictor.preprocess import to_grey


class StackView:
    """A lazy ``(N, Y, X)`` or ``(N, Y, X, 3)`` view of a larger array, frame by frame.

    data: array-like (numpy, dask, zarr, memmap). ``axis`` is the index of the tracked
    axis (time, or Z for a volume); ``channel_axis`` (optional) is picked at ``channel``
    (a number), turned into its luminance with ``channel="grey"`` (3 or 4 channels; float32
    frames), or kept as RGB when it has 3 entries and ``channel`` is None; a single channel
    is used as it is. ``fixed`` pins any other axes, e.g. ``{1: 5}`` to track along T at
    Z = 5 of a (T, Z, Y, X) stack. The last two remaining axes are Y and X.
    """

    def __init__(
        self,
        data,
        axis: int = 0,
        channel_axis: int | None = None,
        channel: int | str | None = None,
        fixed: dict[int, int] | None = None,
    ) -> None:
        shape = tuple(int(s) for s in data.shape)
        nd = len(shape)
        if nd < 2:
            raise ValueError(f"a stack needs at least 3 dimensions; got shape {shape}")

        def norm(a, what):
            if not -nd <= a < nd:
                raise ValueError(f"{what} {a} does not exist in an array of shape {shape}")
            return a % nd

        self.data = data
        self.axis = norm(axis, "axis")
        self.fixed = {norm(a, "fixed axis"): int(i) for a, i in (fixed or {}).items()}
        self.channel_axis = None if channel_axis is None else norm(channel_axis, "channel_axis")
        self.grey = _is_grey_request(channel)
        for a, i in self.fixed.items():
            if not 0 <= i < shape[a]:
                raise ValueError(f"index {i} is outside axis {a} of length {shape[a]}")
        if self.channel_axis is None:
            if channel is not None and not self.grey:
                raise ValueError(
                    f"channel {channel!r} given, but data of shape {shape} has no channel axis "
                    f"(single-channel data: leave the channel out)"
                )
            channel = None  # 'grey' of grey data: nothing to do
            self.grey = False
        else:
            n_ch = shape[self.channel_axis]
            if self.grey:
                if n_ch not in (3, 4):
                    raise ValueError(
                        f"channel='grey' needs 3 (RGB) or 4 (RGBA) channels; data of shape {shape} "
                        f"has {n_ch} on axis {self.channel_axis}: choose one with channel="
                    )
                channel = None
            elif channel is None and n_ch == 1:
                channel = 0
            elif channel is None and n_ch != 3:
                raise ValueError(
                    f"data of shape {shape} has {n_ch} channels on axis {self.channel_axis}: "
                    f"choose one with channel= (0 to {n_ch - 1}) or 'grey' for RGB(A)"
                )
            elif channel is not None:
                if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
                    raise ValueError(f"channel must be a channel number or 'grey', got {channel!r}")
                if not 0 <= channel < n_ch:
                    raise ValueError(
                        f"channel {channel} does not exist: data of shape {shape} has {n_ch} "
                        f"channel(s) on axis {self.channel_axis}, numbered from 0"
                    )
                channel = int(channel)
        self.channel = channel
        used = {self.axis, *self.fixed}
        if self.channel_axis is not None:
            used.add(self.channel_axis)
        spatial = [a for a in range(nd) if a not in used]
        if len(spatial) != 2:
            raise ValueError(
                f"shape {shape} with tracked axis {self.axis}, channel axis {self.channel_axis} and "
                f"fixed axes {sorted(self.fixed)} leaves {len(spatial)} image axes, not 2 (Y, X)"
            )
        self.spatial = spatial
        rgb = self.channel_axis is not None and channel is None and not self.grey
        self.shape = (shape[self.axis], shape[spatial[0]], shape[spatial[1]]) + (
            (3,) if rgb else ()
        )
        self.dtype = np.dtype(np.float32) if self.grey else np.dtype(data.dtype)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if not 0 <= i < self.shape[0]:
            raise IndexError(f"frame {i} is outside the {self.shape[0]} frames")
        index: list = [slice(None)] * len(self.data.shape)
        index[self.axis] = i
        for a, j in self.fixed.items():
            index[a] = j
        if self.channel_axis is not None and self.channel is not None:
            index[self.channel_axis] = self.channel
        frame = np.asarray(self.data[tuple(index)])
        # remaining axes keep their order; put channels last
        kept = [a for a in range(len(self.data.shape)) if isinstance(index[a], slice)]
        order = [kept.index(a) for a in self.spatial]
        if self.channel_axis is not None and self.channel is None:
            order.append(kept.index(self.channel_axis))
        frame = np.transpose(frame, order)
        return to_grey(frame) if self.grey else frame


def _is_grey_request(channel) -> bool:
    if isinstance(channel, str):
        if channel.strip().lower() in ("grey", "gray"):
            return True
        raise ValueError(f"channel must be a channel number or 'grey', got {channel!r}")
    return False


def stack_view(
    data,
    axis: str = "t",
    channel: int | str | None = None,
    channel_axis: int | None = None,
    time_point: int | None = None,
    z: int | None = None,
) -> StackView:
    """Interpret common microscopy layouts (numpy order, Y and X last unless ``channel_axis`` says otherwise).

    * ``(T, Y, X)`` / ``(Z, Y, X)``: the first axis is tracked.
    * ``(T, Y, X, C)`` with C <= 4, or ``(T, C, Y, X)`` given ``channel_axis=1``: pick ``channel``
      (or keep RGB when C == 3 and no channel is given); ``channel="grey"`` gives the luminance
      of RGB(A) as float32 frames (what a model trained on grey frames, like the demo, needs).
    * A channel number for data without a channel axis, or one that does not exist, is a
      ValueError naming the data's shape.
    * ``(T, Z, Y, X)``: ``axis="z"`` with ``time_point`` tracks through Z at that time;
      ``axis="t"`` with ``z`` tracks through time at that slice.
    """
    if axis not in ("t", "z"):
        raise ValueError(f"axis must be 't' or 'z', got {axis!r}")
    shape = tuple(data.shape)
    nd = len(shape)
    if channel_axis is None and nd >= 4 and shape[-1] <= 4 and shape[-2] > 4:
        channel_axis = nd - 1
    n_other = nd - 2 - (channel_axis is not None)
    if n_other == 1:
        if time_point is not None or z is not None:
            raise ValueError("time_point/z only apply to (T, Z, Y, X) data")
        return StackView(data, 0, channel_axis, channel)
    if n_other == 2:
        # (T, Z, ...): axis 0 is time, axis 1 is Z
        if axis == "z":
            if time_point is None:
                raise ValueError("(T, Z, Y, X) data tracked along Z needs time_point=")
            return StackView(data, 1, channel_axis, channel, fixed={0: time_point})
        if z is None:
            raise ValueError("(T, Z, Y, X) data tracked along T needs z=")
        return StackView(data, 0, channel_axis, channel, fixed={1: z})
    raise ValueError(
        f"cannot track an array of shape {shape}: expected (T, Y, X), (Z, Y, X), "
        f"(T, Y, X, C), (T, C, Y, X) or (T, Z, Y, X)"
    )
