"""Hiera trunk: a hierarchical ViT with windowed/global attention and query pooling between stages."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import MLP


def to_windows(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Split ``(B, H, W, C)`` into ``(B * nWin, size, size, C)``, zero-padding H and W up to a multiple of ``size``.

    Returns the windows and the padded ``(Hp, Wp)``.
    """
    b, h, w, c = x.shape
    hp, wp = -(-h // size) * size, -(-w // size) * size
    if (hp, wp) != (h, w):
        x = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
    x = x.view(b, hp // size, size, wp // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, c), (hp, wp)


def from_windows(
    windows: torch.Tensor, size: int, padded: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`to_windows`: ``(B * nWin, size, size, C)`` -> ``(B, H, W, C)`` without padding."""
    hp, wp = padded
    nh, nw = hp // size, wp // size
    b = windows.shape[0] // (nh * nw)
    x = windows.reshape(b, nh, nw, size, size, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, : hw[0], : hw[1]]


def _maxpool_nhwc(x: torch.Tensor, pool: nn.Module) -> torch.Tensor:
    return pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention on ``(B, H, W, C)`` tokens; queries optionally max-pooled (stage change)."""

    def __init__(
        self, dim: int, dim_out: int, num_heads: int, q_pool: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(dim, 3 * dim_out), nn.Linear(dim_out, dim_out)
        self.num_heads, self.q_pool = num_heads, q_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(2)  # each (B, HW, heads, hd)
        if self.q_pool is not None:
            q = _maxpool_nhwc(q.reshape(b, h, w, -1), self.q_pool)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return self.proj(out)


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block of Hiera; ``window_size == 0`` means global attention.

    When ``q_stride`` is set the block halves the spatial size (query pooling) and the
    residual branch is projected to ``dim_out`` and pooled the same way.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        window_size: int,
        q_stride: tuple[int, int] | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window_size = window_size
        self.q_stride = q_stride
        self.pool = nn.MaxPool2d(kernel_size=q_stride, stride=q_stride) if q_stride else None
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads, q_pool=self.pool)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        residual = x
        if self.dim != self.dim_out:
            residual = self.proj(normed)
            if self.pool is not None:
                residual = _maxpool_nhwc(residual, self.pool)

        win = self.window_size
        if win > 0:
            hw = normed.shape[1:3]
            normed, padded = to_windows(normed, win)
        y = self.attn(normed)
        if win > 0:
            if self.q_stride:
                # queries were pooled inside each window: windows and the grid shrank
                win = win // self.q_stride[0]
                hw = residual.shape[1:3]
                padded = (-(-hw[0] // win) * win, -(-hw[1] // win) * win)
            y = from_windows(y, win, padded, hw)

        x = residual + y
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """7x7 stride-4 convolution: ``(B, 3, H, W)`` image -> ``(B, H/4, W/4, C)`` tokens."""

    def __init__(self, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """The image trunk. ``forward`` returns one ``(B, C_i, H_i, W_i)`` map per stage, strides 4, 8, 16, 32.

    Sizes: ``stages`` blocks per stage; width and heads double at each stage change,
    where the first block of the new stage pools its queries by ``q_stride``.
    """

    def __init__(
        self,
        embed_dim: int = 96,
        num_heads: int = 1,
        stages: tuple[int, ...] = (2, 3, 16, 3),
        global_att_blocks: tuple[int, ...] = (12, 16, 20),
        window_spec: tuple[int, ...] = (8, 4, 14, 7),
        window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14),
        q_stride: tuple[int, int] = (2, 2),
        num_q_pool: int = 3,
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
    ) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError("stages and window_spec must have the same length")
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        pool_blocks = {end + 1 for end in self.stage_ends[:-1][:num_q_pool]}

        self.patch_embed = PatchEmbed(embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(
            torch.zeros(1, embed_dim, window_spec[0], window_spec[0])
        )

        self.blocks = nn.ModuleList()
        dim, heads, stage = embed_dim, num_heads, 0
        for i in range(sum(stages)):
            # The first block of a stage still uses the previous stage's window size.
            window = 0 if i in global_att_blocks else window_spec[stage]
            dim_out = dim
            if i - 1 in self.stage_ends:
                dim_out, heads, stage = int(dim * dim_mul), int(heads * head_mul), stage + 1
            self.blocks.append(
                MultiScaleBlock(
                    dim, dim_out, heads, window, q_stride=q_stride if i in pool_blocks else None
                )
            )
            dim = dim_out
        self.channel_list = [self.blocks[e].dim_out for e in reversed(self.stage_ends)]

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        bg = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = (h // win.shape[-2], w // win.shape[-1])
        return (bg + win.tile(1, 1, *reps)).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._pos_embed(x.shape[1], x.shape[2])
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                feats.append(x.permute(0, 3, 1, 2))
        return feats
