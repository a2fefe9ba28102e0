"""Position encodings: 2D sine (feature maps), random Fourier (prompts), axial RoPE (memory attention)."""

from __future__ import annotations

import math

import torch
from torch import nn


def _interleaved_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """Sine on even feature indices, cosine on odd ones: ``(..., D) -> (..., D)``."""
    out = torch.empty_like(angles)
    out[..., 0::2] = angles[..., 0::2].sin()
    out[..., 1::2] = angles[..., 1::2].cos()
    return out


class PositionEmbeddingSine(nn.Module):
    """Fixed 2D sine/cosine encoding of a feature map's grid.

    ``forward(x)`` with ``x`` of shape ``(B, C, H, W)`` returns ``(B, num_pos_feats, H, W)``:
    the first half of the channels encodes the row (y), the second half the column (x).
    Positions run 1..H (1..W), are divided by the last one and scaled by 2*pi.
    """

    def __init__(
        self,
        num_pos_feats: int,
        temperature: float = 10000.0,
        normalize: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError(f"num_pos_feats must be even, got {num_pos_feats}")
        self.half = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def _grid(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        key = (h, w, str(device))
        if key not in self._cache:
            ys = torch.arange(1, h + 1, dtype=torch.float32, device=device)
            xs = torch.arange(1, w + 1, dtype=torch.float32, device=device)
            if self.normalize:
                ys = ys / (ys[-1] + 1e-6) * self.scale
                xs = xs / (xs[-1] + 1e-6) * self.scale
            k = torch.arange(self.half, dtype=torch.float32, device=device)
            freq = self.temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / self.half)
            enc_y = _interleaved_sin_cos(ys[:, None] / freq)  # (H, half)
            enc_x = _interleaved_sin_cos(xs[:, None] / freq)  # (W, half)
            grid = torch.cat(
                [
                    enc_y[:, None, :].expand(h, w, self.half),
                    enc_x[None, :, :].expand(h, w, self.half),
                ],
                dim=-1,
            )
            self._cache[key] = grid.permute(2, 0, 1).contiguous()  # (C, H, W)
        return self._cache[key]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = self._grid(x.shape[-2], x.shape[-1], x.device)
        return grid[None].expand(x.shape[0], -1, -1, -1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of (x, y) positions normalised to [0, 1] (SAM's prompt encoding).

    The buffer ``positional_encoding_gaussian_matrix`` has shape ``(2, num_pos_feats)``;
    outputs have ``2 * num_pos_feats`` channels (sines, then cosines).
    """

    def __init__(self, num_pos_feats: int = 64) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def _encode(self, xy01: torch.Tensor) -> torch.Tensor:
        proj = (2 * xy01 - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Dense encoding of an ``(h, w)`` grid of pixel centres -> ``(C, h, w)``."""
        h, w = size
        dev = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=dev) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=dev) + 0.5) / w
        xy = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1)
        return self._encode(xy).permute(2, 0, 1)

    def forward_with_coords(
        self, coords: torch.Tensor, image_size: tuple[int, int]
    ) -> torch.Tensor:
        """Encode ``(B, N, 2)`` pixel coordinates in (x, y) order of an ``(H, W)`` input -> ``(B, N, C)``."""
        h, w = image_size
        size = torch.tensor([w, h], dtype=torch.float32, device=coords.device)
        return self._encode(coords.float() / size)


def axial_rope_angles(
    head_dim: int, end_x: int, end_y: int, theta: float = 10000.0
) -> torch.Tensor:
    """Complex rotations for 2D axial RoPE over an ``end_y x end_x`` grid in raster order.

    Returns a complex tensor ``(end_x * end_y, head_dim // 2)``: the first quarter of the
    head's channel pairs rotate with the column index, the second quarter with the row index.
    """
    n = head_dim // 4
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 4)[:n].float() / head_dim))
    idx = torch.arange(end_x * end_y, dtype=torch.float32)
    col = idx % end_x
    row = torch.div(idx, end_x, rounding_mode="floor")
    ang = torch.cat([torch.outer(col, inv_freq), torch.outer(row, inv_freq)], dim=-1)
    return torch.polar(torch.ones_like(ang), ang)


def apply_rope(x: torch.Tensor, rot: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """``x`` ``(B, heads, N, D)`` with the channel pairs of its first ``n`` tokens (all by default)
    rotated by ``rot`` ``(n_grid, D/2)``; the other tokens are returned as they are.

    When those tokens hold several stacked copies of the grid (e.g. several memory frames), the
    rotations repeat for each copy. The rotation runs in float32; a float32 ``x`` is rotated in
    place (pass a tensor the caller owns, with a contiguous last axis), others come back in their
    own dtype.
    """
    y = x if x.dtype == torch.float32 else x.float()
    part = y[..., : x.shape[-2] if n is None else n, :]
    if part.shape[-2]:
        grid, dim = rot.shape[0], part.shape[-1]
        # stacked copies of the grid share the rotations: broadcast them instead of repeating
        pairs = part.unflatten(-2, (part.shape[-2] // grid, grid)).unflatten(-1, (dim // 2, 2))
        torch.view_as_complex(pairs).mul_(rot)
    return y.type_as(x)
