"""Memory encoder: fuses a frame's features with its (downsampled) mask into a 64-channel memory."""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import PositionEmbeddingSine


class MaskDownSampler(nn.Module):
    """Four stride-2 convs (1 -> 4 -> 16 -> 64 -> 256 channels, LayerNorm + GELU) then a 1x1 conv: mask / 16."""

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        total_stride: int = 16,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch, n = 1, 0
        while stride**n < total_stride:
            out = ch * stride**2
            layers += [
                nn.Conv2d(ch, out, kernel_size, stride, padding),
                LayerNorm2d(out),
                nn.GELU(),
            ]
            ch, n = out, n + 1
        if stride**n != total_stride:
            raise ValueError("total_stride must be a power of stride")
        layers.append(nn.Conv2d(ch, embed_dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7x7, LayerNorm, pointwise MLP (x4), layer scale, residual."""

    def __init__(
        self,
        dim: int = 256,
        kernel_size: int = 7,
        padding: int = 3,
        layer_scale_init_value: float = 1e-6,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels last, laid out so: the pointwise MLP is then one matrix product, also under bf16
        # autocast (which would otherwise copy its weight once per row of the image)
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1).contiguous()
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of ConvNeXt blocks."""

    def __init__(self, dim: int = 256, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """``forward(pix_feat (B, 256, h, w), mask (B, 1, 16h, 16w))`` -> memory ``(B, 64, h, w)`` and its position encoding.

    The mask is passed through a sigmoid first unless ``skip_mask_sigmoid`` (the caller
    has already turned logits into a soft mask).
    """

    def __init__(self, in_dim: int = 256, out_dim: int = 64) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim)
        self.out_proj = (
            nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()
        )
        self.position_encoding = PositionEmbeddingSine(out_dim)

    def forward(
        self, pix_feat: torch.Tensor, masks: torch.Tensor, skip_mask_sigmoid: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        masks = self.mask_downsampler(masks)
        x = self.pix_feat_proj(pix_feat.to(masks.device)) + masks
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x).to(x.dtype)
