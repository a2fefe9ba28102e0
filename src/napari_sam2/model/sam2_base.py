"""The SAM 2 model: holds every part of the paper and computes image features (tracking steps build on it)."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .common import MLP
from .configs import SAM2Config
from .image_encoder import ImageEncoder
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_bank import (
    MemoryEntry,
    pointer_frames,
    recent_memory_frames,
    select_closest_cond_frames,
    sine_1d,
)
from .memory_encoder import MemoryEncoder
from .prompt_encoder import PromptEncoder
from .steps import FrameFeatures, HeadOutput, Points, StepOutput


# Mask logit written where the object is judged absent.
NO_OBJ_SCORE = -1024.0


class SAM2Base(nn.Module):
    """Image encoder, prompt encoder, mask decoder, memory attention, memory encoder and the
    learned memory/pointer embeddings, with the official parameter names.

    Children are built by :func:`napari_sam2.model.build.build_model` and passed in.
    """

    backbone_stride = 16

    def __init__(
        self,
        cfg: SAM2Config,
        image_encoder: ImageEncoder,
        memory_attention: MemoryAttention,
        memory_encoder: MemoryEncoder,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
    ) -> None:
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
        self.no_obj_embed_spatial = (
            nn.Parameter(torch.zeros(1, m)) if cfg.no_obj_embed_spatial else None
        )
        if cfg.use_obj_ptrs_in_encoder:
            self.obj_ptr_proj = MLP(c, c, c, 3) if cfg.use_mlp_for_obj_ptr_proj else nn.Linear(c, c)
        else:
            self.obj_ptr_proj = nn.Identity()
        self.obj_ptr_tpos_proj = nn.Linear(c, m) if cfg.proj_tpos_enc_in_obj_ptrs else nn.Identity()
        for p in (
            self.maskmem_tpos_enc,
            self.no_mem_embed,
            self.no_mem_pos_enc,
            getattr(self, "no_obj_ptr", None),
            self.no_obj_embed_spatial,
        ):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

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

    # ----------------------------------------------------------------- tracking parts

    def frame_features(self, backbone_out: dict) -> FrameFeatures:
        """Flatten the three finest levels of ``forward_image`` output to ``(HW, B, C)``."""
        n = 3 if self.cfg.use_high_res_features_in_sam else 1
        maps = backbone_out["backbone_fpn"][-n:]
        pos = backbone_out["vision_pos_enc"][-n:]
        return FrameFeatures(
            [m.flatten(2).permute(2, 0, 1) for m in maps],
            pos[-1].flatten(2).permute(2, 0, 1),
            [(p.shape[-2], p.shape[-1]) for p in pos],
        )

    def forward_sam_heads(
        self,
        backbone_features: torch.Tensor,
        points: Points | None = None,
        mask_inputs: torch.Tensor | None = None,
        high_res_features: list | None = None,
        multimask_output: bool = False,
    ) -> HeadOutput:
        """Decode masks for B objects from ``(B, C, h, w)`` (memory-conditioned) features.

        mask_inputs: ``(B, 1, H, W)`` logits or probabilities, resized to the prompt size here.
        """
        b = backbone_features.shape[0]
        dev = backbone_features.device
        if points is not None:
            coords, labels = points.coords, points.labels
        else:
            coords = torch.zeros(b, 1, 2, device=dev)
            labels = -torch.ones(b, 1, dtype=torch.int32, device=dev)
        enc = self.sam_prompt_encoder
        if mask_inputs is not None and tuple(mask_inputs.shape[-2:]) != enc.mask_input_size:
            mask_inputs = F.interpolate(
                mask_inputs.float(),
                size=enc.mask_input_size,
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        sparse, dense = enc(points=(coords, labels), boxes=None, masks=mask_inputs)
        out = self.sam_mask_decoder(
            image_embeddings=backbone_features,
            image_pe=enc.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        masks, obj_score = out.masks, out.object_score
        decoder_masks = masks
        present = obj_score > 0
        if self.cfg.pred_obj_scores:
            # memory masks follow the presence decision exactly
            masks = torch.where(present[:, None, None], masks, NO_OBJ_SCORE)
        low_multi = masks.float()
        token = out.tokens[:, 0]
        if multimask_output:
            best = out.iou.argmax(dim=-1)
            rows = torch.arange(b, device=dev)
            low = low_multi[rows, best].unsqueeze(1)
            best_iou = out.iou[rows, best]
            if out.tokens.shape[1] > 1:
                token = out.tokens[rows, best]
        else:
            low, best_iou = low_multi, out.iou[:, 0]
        weight = obj_score.sigmoid() if self.cfg.soft_no_obj_ptr else present.float()
        obj_ptr = self._gate_pointer(self.obj_ptr_proj(token), weight)
        return HeadOutput(low_multi, out.iou, low, obj_ptr, obj_score, best_iou, decoder_masks)

    def _gate_pointer(self, obj_ptr: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Mix in the learned "no object" pointer with ``1 - weight`` (weight: presence, hard or soft)."""
        if not self.cfg.pred_obj_scores:
            return obj_ptr
        if self.cfg.fixed_no_obj_ptr:
            obj_ptr = weight * obj_ptr
        return obj_ptr + (1 - weight) * self.no_obj_ptr

    def mask_as_output(
        self, pix_feat: torch.Tensor, high_res_features: list | None, mask_inputs: torch.Tensor
    ) -> HeadOutput:
        """A given binary mask ``(B, 1, S, S)`` becomes the output (logits +-10); the decoder only makes its pointer."""
        scale, bias = 20.0, -10.0
        m = mask_inputs.float()
        high = m * scale + bias
        low = F.interpolate(
            high,
            size=(high.shape[-2] // 4, high.shape[-1] // 4),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        ious = m.new_ones(m.shape[0], 1)
        if self.cfg.use_obj_ptrs_in_encoder:
            obj_ptr = self.forward_sam_heads(
                pix_feat, mask_inputs=self.mask_downsample(m), high_res_features=high_res_features
            ).obj_ptr
        else:
            obj_ptr = torch.zeros(m.shape[0], self.hidden_dim, device=m.device)
        present = (m.flatten(1) > 0).any(dim=1, keepdim=True).float()
        score = scale * present + bias
        # presence follows the given mask, not the decoder's score
        obj_ptr = self._gate_pointer(obj_ptr, present)
        return HeadOutput(low, ious, low, obj_ptr, score, ious[:, 0], low, given_high_res=high)

    def memory_conditioned_features(
        self,
        *,
        frame_idx: int,
        feats: FrameFeatures,
        num_frames: int,
        cond: Mapping[int, MemoryEntry],
        non_cond: Mapping[int, MemoryEntry],
        is_init_cond_frame: bool = False,
        reverse: bool = False,
    ) -> torch.Tensor:
        """The stride-16 features of ``frame_idx`` after attending to the memory bank, ``(B, C, h, w)``.

        cond / non_cond: the batch's prompted and tracked frames, ``{frame: MemoryEntry}``.
        """
        cfg = self.cfg
        x, x_pos = feats.feats[-1], feats.pos
        b, c = x.shape[1], self.hidden_dim
        h, w = feats.sizes[-1]
        if self.num_maskmem == 0:
            return feats.grid()
        if is_init_cond_frame:
            if cfg.directly_add_no_mem_embed:
                return (x + self.no_mem_embed).permute(1, 2, 0).reshape(b, c, h, w)
            memory = [self.no_mem_embed.expand(1, b, self.mem_dim)]
            memory_pos = [self.no_mem_pos_enc.expand(1, b, self.mem_dim)]
            n_ptr_tokens = 0
        else:
            if not cond:
                raise RuntimeError(
                    f"frame {frame_idx} is tracked but the object has no prompted frame"
                )
            selected, unselected = select_closest_cond_frames(
                frame_idx, cond, cfg.max_cond_frames_in_attn
            )
            # prompted frames all share the last temporal slot (t_pos 0)
            slots = [(0, entry) for entry in selected.values()]
            for t_pos, t in recent_memory_frames(
                frame_idx, self.num_maskmem, reverse, cfg.memory_temporal_stride_for_eval
            ):
                entry = non_cond.get(t)
                slots.append((t_pos, entry if entry is not None else unselected.get(t)))
            memory, memory_pos = [], []
            for t_pos, entry in slots:
                if entry is None or entry.features is None:  # not in the bank, or a pointer only
                    continue
                memory.append(entry.features.to(x.device).flatten(2).permute(2, 0, 1))
                enc = entry.pos_enc.to(x.device).flatten(2).permute(2, 0, 1)
                memory_pos.append(enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1])
            n_ptr_tokens = 0
            if cfg.use_obj_ptrs_in_encoder:
                ptrs, n_ptr_tokens = self._pointer_tokens(
                    frame_idx, selected, unselected, non_cond, num_frames, reverse, b
                )
                if ptrs is not None:
                    memory.append(ptrs[0])
                    memory_pos.append(ptrs[1])
        # memory features may be stored in bfloat16; the attention runs in the features' precision
        mem = torch.cat(memory, dim=0).to(x.dtype)  # one pass: cat promotes bf16 to float32
        mem_pos = torch.cat(memory_pos, dim=0)
        out = self.memory_attention(x, mem, x_pos, mem_pos, num_obj_ptr_tokens=n_ptr_tokens)
        return out.permute(1, 2, 0).reshape(b, c, h, w)

    def _pointer_tokens(self, frame_idx, selected, unselected, non_cond, num_frames, reverse, b):
        cfg = self.cfg
        max_ptrs = min(num_frames, cfg.max_obj_ptrs_in_encoder)
        if cfg.only_obj_ptrs_in_the_past_for_eval and not self.training:
            ptr_cond = {
                t: e for t, e in selected.items() if (t >= frame_idx if reverse else t <= frame_idx)
            }
        else:
            ptr_cond = selected
        sign = -1 if reverse else 1
        entries = [
            (
                (frame_idx - t) * sign
                if cfg.use_signed_tpos_enc_to_obj_ptrs
                else abs(frame_idx - t),
                e.obj_ptr,
            )
            for t, e in ptr_cond.items()
        ]
        for t_diff, t in pointer_frames(frame_idx, num_frames, max_ptrs, reverse):
            e = non_cond.get(t, unselected.get(t))
            if e is not None:
                entries.append((t_diff, e.obj_ptr))
        if not entries:
            return None, 0
        positions, ptrs = zip(*entries)
        ptrs = torch.stack(ptrs, dim=0)  # (N, B, C)
        dev = ptrs.device
        if cfg.add_tpos_enc_to_obj_ptrs:
            span = max(max_ptrs - 1, 1)
            dim = self.hidden_dim if cfg.proj_tpos_enc_in_obj_ptrs else self.mem_dim
            pos = sine_1d(torch.tensor(positions, device=dev) / span, dim)
            pos = self.obj_ptr_tpos_proj(pos).unsqueeze(1).expand(-1, b, self.mem_dim)
        else:
            pos = ptrs.new_zeros(len(positions), b, self.mem_dim)
        split = self.hidden_dim // self.mem_dim
        if split > 1:
            # each C-wide pointer becomes `split` tokens of the memory width
            ptrs = ptrs.reshape(-1, b, split, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            pos = pos.repeat_interleave(split, dim=0)
        return (ptrs, pos), ptrs.shape[0]

    def encode_memory(
        self,
        feats: FrameFeatures,
        high_res_masks: torch.Tensor,
        object_score: torch.Tensor,
        is_mask_from_pts: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory of a frame, ``(B, 64, h, w)``, and its position encoding, from the frame's (not
        memory-conditioned) features and ``(B, 1, S, S)`` mask logits."""
        cfg = self.cfg
        pix = feats.grid()
        masks = high_res_masks
        if cfg.non_overlap_masks_for_mem_enc and not self.training:
            masks = non_overlapping(masks)
        if cfg.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts and not self.training:
            soft = (masks > 0).float()
        else:
            soft = torch.sigmoid(masks)
        if cfg.sigmoid_scale_for_mem_enc != 1.0:
            soft = soft * cfg.sigmoid_scale_for_mem_enc
        if cfg.sigmoid_bias_for_mem_enc != 0.0:
            soft = soft + cfg.sigmoid_bias_for_mem_enc
        mem, pos = self.memory_encoder(pix, soft, skip_mask_sigmoid=True)
        if self.no_obj_embed_spatial is not None:
            absent = 1 - (object_score > 0).float()
            mem = mem + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None].expand(
                *mem.shape
            )
        return mem, pos

    def use_multimask(self, is_init_cond_frame: bool, points: Points | None) -> bool:
        n = 0 if points is None else points.labels.shape[1]
        cfg = self.cfg
        return (
            cfg.multimask_output_in_sam
            and (is_init_cond_frame or cfg.multimask_output_for_tracking)
            and cfg.multimask_min_pt_num <= n <= cfg.multimask_max_pt_num
        )

    def track_step(
        self,
        *,
        frame_idx: int,
        feats: FrameFeatures,
        num_frames: int,
        cond: Mapping[int, MemoryEntry] | None = None,
        non_cond: Mapping[int, MemoryEntry] | None = None,
        is_init_cond_frame: bool = False,
        points: Points | None = None,
        mask_inputs: torch.Tensor | None = None,
        reverse: bool = False,
        run_mem_encoder: bool = True,
        prev_mask_logits: torch.Tensor | None = None,
    ) -> StepOutput:
        """One frame of tracking for B objects: memory attention, decoding, then (optionally) its new memory.

        is_init_cond_frame: a newly prompted frame, decoded from its prompts without memory.
        points / mask_inputs: the frame's prompts (mask ``(B, 1, S, S)``); prev_mask_logits
        ``(B, 1, S/4, S/4)``: the mask shown before a further click, refined by it.
        """
        high_res = [feats.grid(i) for i in range(len(feats.feats) - 1)] or None
        if mask_inputs is not None and self.cfg.use_mask_input_as_output_without_sam:
            head = self.mask_as_output(feats.grid(), high_res, mask_inputs)
        else:
            pix = self.memory_conditioned_features(
                frame_idx=frame_idx,
                feats=feats,
                num_frames=num_frames,
                cond=cond or {},
                non_cond=non_cond or {},
                is_init_cond_frame=is_init_cond_frame,
                reverse=reverse,
            )
            prompt_mask = mask_inputs
            if prev_mask_logits is not None:
                if points is None or mask_inputs is not None:
                    raise ValueError("previous mask logits refine point prompts only")
                prompt_mask = prev_mask_logits
            head = self.forward_sam_heads(
                pix, points, prompt_mask, high_res, self.use_multimask(is_init_cond_frame, points)
            )
        out = StepOutput(
            head.low_res_masks,
            head.obj_ptr,
            head.object_score,
            head.best_iou,
            head.low_res_multimasks,
            head.ious,
            head.decoder_multimasks,
            self.image_size,
            head.given_high_res,
        )
        if run_mem_encoder and self.num_maskmem > 0:
            out.memory, out.memory_pos = self.encode_memory(
                feats, out.high_res_masks, head.object_score, is_mask_from_pts=points is not None
            )
        return out


def non_overlapping(masks: torch.Tensor) -> torch.Tensor:
    """Keep each pixel only for the highest-scoring object of ``(N, 1, H, W)`` logits (others clamped to <= -10)."""
    if masks.shape[0] == 1:
        return masks
    winner = masks.argmax(dim=0, keepdim=True)
    ids = torch.arange(masks.shape[0], device=masks.device)[:, None, None, None]
    return torch.where(winner == ids, masks, masks.clamp(max=-10.0))
