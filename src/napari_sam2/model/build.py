"""Builds a SAM 2 model (random weights) from its config: the parts of the paper, wired together."""

from __future__ import annotations

from .configs import SAM2Config
from .hiera import Hiera
from .image_encoder import FpnNeck, ImageEncoder
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .prompt_encoder import PromptEncoder
from .sam2_base import SAM2Base
from .transformer import TwoWayTransformer


def build_model(cfg: SAM2Config) -> SAM2Base:
    """Construct a randomly initialised model for ``cfg`` (all sizes are read from ``cfg``)."""
    t = cfg.trunk
    trunk = Hiera(
        embed_dim=t.embed_dim,
        num_heads=t.num_heads,
        stages=t.stages,
        global_att_blocks=t.global_att_blocks,
        window_spec=t.window_spec,
        window_pos_embed_bkg_spatial_size=t.window_pos_embed_bkg_spatial_size,
    )
    neck = FpnNeck(cfg.d_model, t.channel_list)
    grid = cfg.image_size // SAM2Base.backbone_stride
    prompt_encoder = PromptEncoder(
        cfg.d_model, (grid, grid), (cfg.image_size, cfg.image_size), mask_in_chans=16
    )
    mask_decoder = MaskDecoder(
        cfg.d_model,
        TwoWayTransformer(
            depth=2,
            embedding_dim=cfg.d_model,
            num_heads=cfg.decoder_heads,
            mlp_dim=cfg.decoder_mlp_dim,
        ),
        use_high_res_features=cfg.use_high_res_features_in_sam,
        iou_prediction_use_sigmoid=cfg.iou_prediction_use_sigmoid,
        pred_obj_scores=cfg.pred_obj_scores,
        pred_obj_scores_mlp=cfg.pred_obj_scores_mlp,
        use_multimask_token_for_obj_ptr=cfg.use_multimask_token_for_obj_ptr,
        **cfg.decoder_extra,
    )
    memory_attention = MemoryAttention(
        cfg.d_model,
        num_layers=cfg.memory_attention_layers,
        kv_in_dim=cfg.mem_dim,
        dim_feedforward=cfg.memory_attention_ffn,
    )
    memory_encoder = MemoryEncoder(cfg.d_model, cfg.mem_dim)
    return SAM2Base(
        cfg,
        ImageEncoder(trunk, neck, scalp=1),
        memory_attention,
        memory_encoder,
        prompt_encoder,
        mask_decoder,
    )
