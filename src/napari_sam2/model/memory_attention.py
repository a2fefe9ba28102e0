"""Memory attention: the current frame's tokens self-attend, then cross-attend to the memory bank (2D RoPE)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import activation_fn
from .position_encoding import apply_rope, axial_rope_angles
from .transformer import Attention


def as_autocast(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the autocast precision where autocast is on (else as it is): cast once here, the same
    values autocast would give each of the layers that read it, which would each cast it again."""
    kind = x.device.type
    if torch.is_autocast_enabled(kind) and x.is_floating_point():
        return x.to(torch.get_autocast_dtype(kind))
    return x


class RoPEAttention(Attention):
    """Attention whose queries and (spatial) keys are rotated by 2D axial RoPE.

    Queries form a square grid of side ``sqrt(Nq)``. Keys may hold several stacked
    copies of such a grid (memory frames) followed by ``num_k_exclude_rope`` tokens
    (object pointers) that are not rotated.
    """

    def __init__(
        self, *args, rope_theta: float = 10000.0, rope_k_repeat: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rope_theta = rope_theta
        self.rope_k_repeat = rope_k_repeat
        self._angles: dict[tuple[int, str], torch.Tensor] = {}

    def _rotations(self, n_q: int, device: torch.device) -> torch.Tensor:
        key = (n_q, str(device))
        if key not in self._angles:
            side = int(math.isqrt(n_q))
            if side * side != n_q:
                raise ValueError(f"RoPE attention needs a square token grid, got {n_q} queries")
            self._angles[key] = axial_rope_angles(
                self.internal_dim // self.num_heads, side, side, self.rope_theta
            ).to(device)
        return self._angles[key]

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0
    ) -> torch.Tensor:
        q = self.split_heads(self.q_proj(q))
        k = self.split_heads(self.k_proj(k))
        v = self.split_heads(self.v_proj(v))
        rot = self._rotations(q.shape[-2], q.device)
        if q.shape[-2] != k.shape[-2] and not self.rope_k_repeat:
            raise ValueError("keys differ in length from queries but rope_k_repeat is off")
        # q and k are this call's own projections: rotated in place where they are float32
        q = apply_rope(q, rot)
        k = apply_rope(k, rot, max(k.shape[-2] - num_k_exclude_rope, 0))
        return self.attend(q, k, v)


class MemoryAttentionLayer(nn.Module):
    """Pre-norm block: RoPE self-attention, RoPE cross-attention to memories (+ key pos), ReLU MLP."""

    def __init__(
        self,
        d_model: int = 256,
        dim_feedforward: int = 2048,
        kv_in_dim: int = 64,
        num_heads: int = 1,
        dropout: float = 0.1,
        activation: str = "relu",
        rope_theta: float = 10000.0,
    ) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, num_heads, dropout=dropout, rope_theta=rope_theta)
        self.cross_attn_image = RoPEAttention(
            d_model,
            num_heads,
            dropout=dropout,
            kv_in_dim=kv_in_dim,
            rope_theta=rope_theta,
            rope_k_repeat=True,
        )
        # pre-norms of the three sub-blocks and the dropouts on their residual branches
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))
        # feed-forward part
        self.linear1, self.linear2 = (
            nn.Linear(d_model, dim_feedforward),
            nn.Linear(dim_feedforward, d_model),
        )
        self.dropout, self.activation = nn.Dropout(dropout), activation_fn(activation)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_keys: torch.Tensor,
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        """``memory_keys``: the memory plus its position encoding (positions go to the memory keys
        only, not to the queries or the values)."""
        x = as_autocast(self.norm1(tgt))
        tgt = tgt + self.dropout1(self.self_attn(x, x, x))
        x = self.norm2(tgt)
        tgt = tgt + self.dropout2(
            self.cross_attn_image(x, memory_keys, memory, num_k_exclude_rope=num_k_exclude_rope)
        )
        x = self.norm3(tgt)
        return tgt + self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class MemoryAttention(nn.Module):
    """``num_layers`` memory attention layers and a final LayerNorm.

    Inputs are sequence-first, as the tracker keeps them: ``curr (HW, B, C)``,
    ``memory (M, B, C_mem)``; returns ``(HW, B, C)``.
    """

    def __init__(
        self, d_model: int = 256, num_layers: int = 4, pos_enc_at_input: bool = True, **layer_kwargs
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(d_model, **layer_kwargs) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input

    def forward(
        self,
        curr: torch.Tensor,
        memory: torch.Tensor,
        curr_pos: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        if curr.shape[1] != memory.shape[1]:
            raise ValueError(
                f"batch of current frame ({curr.shape[1]}) and memory ({memory.shape[1]}) differ"
            )
        x = curr + 0.1 * curr_pos if self.pos_enc_at_input else curr
        # batch first, laid out so (one matrix product per projection, also under bf16 autocast)
        # (the keys, memory plus positions, are the same for every layer: added once)
        x, memory, keys = (
            x.transpose(0, 1).contiguous(),
            as_autocast(memory.transpose(0, 1).contiguous()),
            as_autocast((memory + memory_pos).transpose(0, 1).contiguous()),
        )
        for layer in self.layers:
            x = layer(x, memory, keys, num_k_exclude_rope=num_obj_ptr_tokens)
        return self.norm(x).transpose(0, 1)
