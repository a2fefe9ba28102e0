"""Mask decoder: output tokens through the two-way transformer, upscaled with stride 4/8 skips, hypernetwork masks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import MLP, LayerNorm2d
from .transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    """Decoder results for B prompt sets; M = 3 with multimask output, else 1.

    masks: (B, M, 4h, 4w) logits; iou: (B, M); tokens: (B, M or 1, C) output tokens
    used for object pointers; object_score: (B, 1) logit that the object is present.
    """

    masks: torch.Tensor
    iou: torch.Tensor
    tokens: torch.Tensor
    object_score: torch.Tensor


class MaskDecoder(nn.Module):
    """SAM 2 mask decoder (with object-score token and high-resolution skip features)."""

    def __init__(
        self,
        transformer_dim: int = 256,
        transformer: TwoWayTransformer | None = None,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = True,
        iou_prediction_use_sigmoid: bool = True,
        pred_obj_scores: bool = True,
        pred_obj_scores_mlp: bool = True,
        use_multimask_token_for_obj_ptr: bool = True,
        dynamic_multimask_via_stability: bool = False,
        dynamic_multimask_stability_delta: float = 0.05,
        dynamic_multimask_stability_thresh: float = 0.98,
    ) -> None:
        super().__init__()
        c = transformer_dim
        self.transformer = (
            transformer if transformer is not None else TwoWayTransformer(embedding_dim=c)
        )
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, c)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, c)
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, c)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2),
            LayerNorm2d(c // 4),
            nn.GELU(),
            nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(c, c // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(c, c // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(c, c, c // 8, 3) for _ in range(self.num_mask_tokens)
        )
        # in, hidden and out sizes, layers
        head = (c, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth)
        self.iou_prediction_head = MLP(*head, sigmoid_output=iou_prediction_use_sigmoid)
        if pred_obj_scores:
            self.pred_obj_score_head = MLP(c, c, 1, 3) if pred_obj_scores_mlp else nn.Linear(c, 1)
        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.stability_delta = dynamic_multimask_stability_delta
        self.stability_thresh = dynamic_multimask_stability_thresh

    def forward(
        self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor, dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool, repeat_image: bool, high_res_features: list[torch.Tensor] | None = None,
    ) -> DecoderOutput:  # fmt: skip
        """``image_embeddings (B or 1, C, h, w)``; with ``repeat_image`` one image serves all B prompt sets.

        ``high_res_features`` are the stride-4 and stride-8 maps already passed through
        ``conv_s0`` / ``conv_s1``.
        """
        masks, iou, tokens, obj = self._predict(
            image_embeddings,
            image_pe,
            sparse_prompt_embeddings,
            dense_prompt_embeddings,
            repeat_image,
            high_res_features,
        )
        if multimask_output:
            masks, iou = masks[:, 1:], iou[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou = self._stable_or_best(masks, iou)
        else:
            masks, iou = masks[:, :1], iou[:, :1]
        # The single-mask token doubles as the memory token unless multimask tokens are asked for.
        tokens = (
            tokens[:, 1:]
            if multimask_output and self.use_multimask_token_for_obj_ptr
            else tokens[:, :1]
        )
        return DecoderOutput(masks, iou, tokens, obj)

    def _predict(self, image, image_pe, sparse, dense, repeat_image, high_res):
        parts = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            parts.insert(0, self.obj_score_token.weight)
        first = 1 if self.pred_obj_scores else 0
        out_tokens = torch.cat(parts, dim=0).unsqueeze(0).expand(sparse.shape[0], -1, -1)
        tokens = torch.cat([out_tokens, sparse], dim=1)
        n = tokens.shape[0]

        src = torch.repeat_interleave(image, n, dim=0) if repeat_image else image
        if src.shape[0] != n:
            raise ValueError(f"{src.shape[0]} image embeddings for {n} prompt sets")
        src = src + dense
        pos = torch.repeat_interleave(image_pe, n, dim=0)
        b, c, h, w = src.shape

        hs, src = self.transformer(src, pos, tokens)
        iou_out = hs[:, first]
        mask_out = hs[:, first + 1 : first + 1 + self.num_mask_tokens]

        src = src.transpose(1, 2).reshape(b, c, h, w)
        if self.use_high_res_features:
            up1, ln, act1, up2, act2 = self.output_upscaling
            s0, s1 = high_res
            x = act1(ln(up1(src) + s1))
            up = act2(up2(x) + s0)
        else:
            up = self.output_upscaling(src)

        hyper = torch.stack(
            [mlp(mask_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        b, c, h, w = up.shape
        masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
        iou = self.iou_prediction_head(iou_out)
        if self.pred_obj_scores:
            obj = self.pred_obj_score_head(hs[:, 0])
        else:
            obj = 10.0 * iou.new_ones(iou.shape[0], 1)  # "always present"
        return masks, iou, mask_out, obj

    def _stable_or_best(self, masks: torch.Tensor, iou: torch.Tensor):
        """Keep the single-mask output where it is stable, else take the best-scored multimask output."""
        multi, multi_iou = masks[:, 1:], iou[:, 1:]
        best = multi_iou.argmax(dim=-1)
        rows = torch.arange(multi.shape[0], device=masks.device)
        best_mask = multi[rows, best].unsqueeze(1)
        best_iou = multi_iou[rows, best].unsqueeze(1)

        single, single_iou = masks[:, :1], iou[:, :1]
        flat = single.flatten(-2)
        inner = (flat > self.stability_delta).sum(-1).float()
        outer = (flat > -self.stability_delta).sum(-1).float()
        stability = torch.where(outer > 0, inner / outer, 1.0)
        stable = stability >= self.stability_thresh
        return (
            torch.where(stable[..., None, None].expand_as(single), single, best_mask),
            torch.where(stable.expand_as(single_iou), single_iou, best_iou),
        )
