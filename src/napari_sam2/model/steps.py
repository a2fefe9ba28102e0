"""What the model's steps take and give: clicks, a frame's image features, decoder and tracking outputs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from .memory_bank import MemoryEntry


def at_input_size(masks: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, M, S/4, S/4)`` mask logits upsampled (bilinear) to the model's ``(S, S)`` input size, as
    the decoder's masks are made high-res: each mask on its own, so one picked from several comes out
    the same as from all of them."""
    return F.interpolate(masks.float(), size=(size, size), mode="bilinear", align_corners=False)


@dataclass
class HeadOutput:
    """Prompt encoder + mask decoder results for B objects (M = 3 with multimask, else 1).

    low_res_multimasks (B, M, S/4, S/4), ious (B, M); the best mask (B, 1, S/4, S/4) and its
    predicted IoU best_iou (B,); obj_ptr (B, C); object_score (B, 1); decoder_multimasks: the
    decoder's low-res candidates before absent objects are blanked (what training supervises);
    given_high_res: a mask prompt used as the output, at input size (else None: the high-res mask is
    made from the low-res one when it is needed, :attr:`StepOutput.high_res_masks`).
    """

    low_res_multimasks: torch.Tensor
    ious: torch.Tensor
    low_res_masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    best_iou: torch.Tensor
    decoder_multimasks: torch.Tensor
    given_high_res: torch.Tensor | None = None


@dataclass
class Points:
    """Clicks for B objects: coords ``(B, P, 2)`` in model pixels (x, y), labels ``(B, P)`` int32
    (1 positive, 0 negative, 2/3 box corners, -1 padding)."""

    coords: torch.Tensor
    labels: torch.Tensor

    def extended(self, more: "Points") -> "Points":
        """These clicks followed by ``more`` (a further click on the same frame)."""
        return Points(
            torch.cat([self.coords, more.coords], 1), torch.cat([self.labels, more.labels], 1)
        )


@dataclass
class StepOutput:
    """One tracking step for B objects.

    masks ``(B, 1, S/4, S/4)`` logits of the chosen mask, and :attr:`high_res_masks` ``(B, 1, S, S)``;
    obj_ptr ``(B, C)``; object_score ``(B, 1)`` logits; iou ``(B,)`` predicted IoU of the chosen mask;
    multimask_logits ``(B, M, S/4, S/4)`` and ious ``(B, M)`` all candidates (M = 3 with multimask,
    else 1); decoder_multimasks the candidates before absent objects are blanked (what training
    supervises); memory ``(B, 64, h, w)`` and memory_pos ``(B, 64, h, w)``: the frame's new memory,
    None when the memory encoder did not run.
    """

    masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    iou: torch.Tensor
    multimask_logits: torch.Tensor
    ious: torch.Tensor
    decoder_multimasks: torch.Tensor
    image_size: int
    given_high_res: torch.Tensor | None = None
    memory: torch.Tensor | None = None
    memory_pos: torch.Tensor | None = None

    @cached_property
    def high_res_masks(self) -> torch.Tensor:
        """The chosen mask at the model's input size: the given mask (a mask prompt used as output),
        else ``masks`` upsampled, made when first asked for (a step that only decodes never needs it)."""
        if self.given_high_res is not None:
            return self.given_high_res
        return at_input_size(self.masks, self.image_size)

    def entry(self) -> MemoryEntry:
        """This step as a memory-bank entry (pointer-only when its memory was not encoded)."""
        return MemoryEntry(self.obj_ptr, self.memory, self.memory_pos)


@dataclass
class FrameFeatures:
    """A frame's image features in the tracker's sequence-first layout.

    feats: per level (stride 4, 8, 16) ``(h_i * w_i, B, C_i)``; sizes: ``(h_i, w_i)``.
    The stride-4/8 levels are already projected for the decoder. pos: the position
    encoding of the stride-16 level, ``(h * w, B, C)`` (the only one the tracker uses;
    the finer ones would be most of a cached frame's memory).
    """

    feats: list[torch.Tensor]
    pos: torch.Tensor
    sizes: list[tuple[int, int]]

    def grid(self, level: int = -1) -> torch.Tensor:
        """One level back as ``(B, C, h, w)``."""
        x = self.feats[level]
        return x.permute(1, 2, 0).reshape(x.shape[1], x.shape[2], *self.sizes[level])

    def expand(self, batch: int) -> "FrameFeatures":
        return FrameFeatures(
            [f.expand(-1, batch, -1) for f in self.feats],
            self.pos.expand(-1, batch, -1),
            self.sizes,
        )

    def pick(self, i: int) -> "FrameFeatures":
        """Batch element ``i`` on its own (a copy: it keeps nothing else of the batch alive)."""
        return FrameFeatures(
            [f[:, i : i + 1].clone() for f in self.feats],
            self.pos[:, i : i + 1].clone(),
            self.sizes,
        )

    @staticmethod
    def stacked(parts: list["FrameFeatures"]) -> "FrameFeatures":
        """Features of one object each (of several frames or windows, same sizes) as one batch, in order;
        runs of the same features are expanded, not copied."""
        if all(p is parts[0] for p in parts):
            return parts[0].expand(len(parts)) if len(parts) != 1 else parts[0]
        return FrameFeatures(
            [torch.cat([p.feats[k] for p in parts], 1) for k in range(len(parts[0].feats))],
            torch.cat([p.pos for p in parts], 1),
            parts[0].sizes,
        )

    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in [*self.feats, self.pos])
