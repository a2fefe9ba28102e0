"""Prompt encoder: points and box corners -> sparse tokens; a low-res mask -> a dense embedding."""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import PositionEmbeddingRandom

# Point label meanings in the token stream.
PAD, NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = -1, 0, 1, 2, 3


def _halving(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel_size=2, stride=2), LayerNorm2d(c_out), nn.GELU()]


class PromptEncoder(nn.Module):
    """Embeds prompts for the mask decoder.

    Points are ``(B, N, 2)`` pixel coordinates in (x, y) order of the square model input
    (``input_image_size``), labels ``(B, N)`` with -1 pad, 0 negative, 1 positive,
    2/3 box corners. Masks are ``(B, 1, 4h, 4w)`` logits, ``h, w`` the embedding size.
    """

    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int = 16,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = image_embedding_size
        self.input_image_size = input_image_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        quarter = mask_in_chans // 4
        # two 2x2 stride-2 stages (conv, norm, GELU), then a 1x1 projection: mask / 4 -> embedding grid
        self.mask_downscaling = nn.Sequential(
            *_halving(1, quarter),
            *_halving(quarter, mask_in_chans),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Encoding of every embedding-grid position, ``(1, C, h, w)``."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        coords = coords + 0.5  # pixel centres
        if pad:
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, -labels.new_ones(labels.shape[0], 1)], dim=1)
        emb = self.pe_layer.forward_with_coords(coords, self.input_image_size)
        lab = labels.unsqueeze(-1)
        emb = torch.where(lab == PAD, torch.zeros_like(emb) + self.not_a_point_embed.weight, emb)
        for value, table in enumerate(self.point_embeddings):
            emb = torch.where(lab == value, emb + table.weight, emb)
        return emb

    def embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        corners = self.pe_layer.forward_with_coords(
            boxes.reshape(-1, 2, 2) + 0.5, self.input_image_size
        )
        corners[:, 0] += self.point_embeddings[BOX_TOP_LEFT].weight[0]
        corners[:, 1] += self.point_embeddings[BOX_BOTTOM_RIGHT].weight[0]
        return corners

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns sparse ``(B, N, C)`` and dense ``(B, C, h, w)`` embeddings."""
        if points is not None:
            bs = points[0].shape[0]
        elif boxes is not None:
            bs = boxes.shape[0]
        elif masks is not None:
            bs = masks.shape[0]
        else:
            bs = 1
        device = self.no_mask_embed.weight.device
        sparse = torch.empty(bs, 0, self.embed_dim, device=device)
        if points is not None:
            sparse = torch.cat(
                [sparse, self.embed_points(points[0], points[1], pad=boxes is None)], dim=1
            )
        if boxes is not None:
            sparse = torch.cat([sparse, self.embed_boxes(boxes)], dim=1)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(bs, -1, h, w)
        return sparse, dense
