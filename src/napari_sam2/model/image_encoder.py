"""Image encoder: Hiera trunk + FPN neck, giving stride 4/8/16 feature maps with sine position encodings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .hiera import Hiera
from .position_encoding import PositionEmbeddingSine


class FpnNeck(nn.Module):
    """Projects each trunk stage to ``d_model`` channels with a 1x1 conv.

    Only the levels in ``top_down_levels`` also receive the (nearest-upsampled) coarser
    level, as in the official configs where levels 2 and 3 (strides 16 and 32) are fused
    and levels 0 and 1 stay lateral.
    ``backbone_channel_list`` is ordered coarse -> fine (``convs[0]`` handles stride 32).
    """

    def __init__(
        self,
        d_model: int,
        backbone_channel_list: list[int],
        top_down_levels: tuple[int, ...] = (2, 3),
        interp_mode: str = "nearest",
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.position_encoding = PositionEmbeddingSine(d_model)
        self.convs = nn.ModuleList()
        for ch in backbone_channel_list:
            seq = nn.Sequential()
            seq.add_module("conv", nn.Conv2d(ch, d_model, kernel_size=1))
            self.convs.append(seq)
        self.top_down_levels = set(top_down_levels)
        self.interp_mode = interp_mode

    def forward(self, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``xs`` fine -> coarse, as Hiera returns them; outputs are in the same order."""
        n = len(xs)
        outs: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        coarser = None
        for level in reversed(range(n)):
            lateral = self.convs[n - 1 - level](xs[level])
            if level in self.top_down_levels and coarser is not None:
                up = F.interpolate(coarser.float(), scale_factor=2.0, mode=self.interp_mode)
                lateral = lateral + up
            outs[level] = coarser = lateral
        pos = [self.position_encoding(o).to(o.dtype) for o in outs]
        return outs, pos


class ImageEncoder(nn.Module):
    """Trunk + neck; drops the ``scalp`` coarsest levels.

    ``forward(img (B, 3, S, S))`` returns a dict with ``backbone_fpn`` (list of
    ``(B, 256, S/4, S/4)``, ``(B, 256, S/8, S/8)``, ``(B, 256, S/16, S/16)``),
    ``vision_pos_enc`` (same shapes) and ``vision_features`` (the stride-16 map).
    """

    def __init__(self, trunk: Hiera, neck: FpnNeck, scalp: int = 1) -> None:
        super().__init__()
        if trunk.channel_list != neck.backbone_channel_list:
            raise ValueError(
                f"trunk channels {trunk.channel_list} do not match neck {neck.backbone_channel_list}"
            )
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, img: torch.Tensor) -> dict:
        feats, pos = self.neck(self.trunk(img))
        if self.scalp:
            feats, pos = feats[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": feats[-1], "vision_pos_enc": pos, "backbone_fpn": feats}
