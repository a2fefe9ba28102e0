"""The SAM 2 model: holds every part of the paper and computes image features (tracking steps build on it)."""

from __future__ import annotations

import torch
from torch import nn

from .common import MLP
from .configs import SAM2Config
from .image_encoder import ImageEncoder
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .prompt_encoder import PromptEncoder


class SAM2Base(nn.Module):
    """Image encoder, prompt encoder, mask decoder, memory attention, memory encoder and the
    learned memory/pointer embeddings, with the official parameter names.

    Children are built by :func:`napari_sam2.model.build.build_model` and passed in.
    """

    backbone_stride = 16

    def __init__(self, cfg: SAM2Config, image_encoder: ImageEncoder, memory_attention: MemoryAttention,
                 memory_encoder: MemoryEncoder, prompt_encoder: PromptEncoder, mask_decoder: MaskDecoder) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_size = cfg.image_size
        self.hidden_dim = cfg.d_model
        self.mem_dim = cfg.mem_dim
        self.num_maskmem = cfg.num_maskmem
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder

        c, m = cfg.d_model, cfg.mem_dim
        if cfg.use_obj_ptrs_in_encoder:
            # turns a full-resolution mask prompt into a SAM logit-scale mask at stride 4
            self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(cfg.num_maskmem, 1, 1, m))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        if cfg.pred_obj_scores and cfg.use_obj_ptrs_in_encoder:
            self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, m)) if cfg.no_obj_embed_spatial else None
        if cfg.use_obj_ptrs_in_encoder:
            self.obj_ptr_proj = MLP(c, c, c, 3) if cfg.use_mlp_for_obj_ptr_proj else nn.Linear(c, c)
        else:
            self.obj_ptr_proj = nn.Identity()
        self.obj_ptr_tpos_proj = nn.Linear(c, m) if cfg.proj_tpos_enc_in_obj_ptrs else nn.Identity()
        for p in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc,
                  getattr(self, "no_obj_ptr", None), self.no_obj_embed_spatial):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    @property
    def feat_size(self) -> int:
        """Side of the stride-16 embedding grid."""
        return self.image_size // self.backbone_stride

    def forward_image(self, img: torch.Tensor) -> dict:
        """Encode a ``(B, 3, S, S)`` normalised batch.

        The stride-4 and stride-8 maps come back already projected by the decoder's
        ``conv_s0`` / ``conv_s1``, so later clicks don't recompute them.
        """
        out = self.image_encoder(img)
        if self.cfg.use_high_res_features_in_sam:
            fpn = list(out["backbone_fpn"])
            fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
            out["backbone_fpn"] = fpn
        return out

    def image_embeddings(self, backbone_out: dict) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Features for single-image prompting: the stride-16 map plus the learned
        "no memory" embedding, ``(B, C, h, w)``, and the high-resolution skip maps."""
        fpn = backbone_out["backbone_fpn"]
        embed = fpn[-1]
        if self.cfg.directly_add_no_mem_embed:
            embed = embed + self.no_mem_embed.view(1, -1, 1, 1)
        high_res = list(fpn[:2]) if self.cfg.use_high_res_features_in_sam else []
        return embed, high_res
