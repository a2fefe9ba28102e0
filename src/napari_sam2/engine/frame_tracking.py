"""Computing tracked frames for a session's objects on the tracker core: objects that share a memory layout
in batches of at most ``max_batch``, optionally with exclusive pixels, their memory rebuilt when it had
been dropped and dropped again once no frame can use it."""

from __future__ import annotations

from typing import Mapping

import torch

from ..model.memory_bank import MemoryEntry
from ..predictor.core import TrackerCore
from .results import BACKWARD, FrameResult, ObjectTrack


class FrameTracker:
    """Tracks frames for the objects of one session (``objects``: the session's live ``{id: ObjectTrack}``)."""

    def __init__(self, core: TrackerCore, objects: Mapping[int, ObjectTrack], max_batch: int, exclusive: bool) -> None:
        self.core, self.objects, self.max_batch, self.exclusive = core, objects, max_batch, exclusive
        self.recomputed_memories = 0

    def track(self, f: int, d: str, groups: dict) -> None:
        """Track frame ``f`` in direction ``d`` for ``groups``: ``{(prompted, recent, pointer frames): [ids]}``."""
        if self.exclusive:
            self._track_exclusive(f, d, groups)
            return
        for (cond, recent, ptrs), members in groups.items():
            for i in range(0, len(members), self.max_batch):  # bounded batches: peak memory follows max_batch
                self._track_batch(f, d, [self.objects[o] for o in members[i:i + self.max_batch]], cond, recent, ptrs)

    def _track_exclusive(self, f: int, d: str, groups: dict) -> None:
        """Track every group on ``f``, make the masks exclusive across all of them, then encode their memory.

        Decoding runs in chunks of ``max_batch`` without the memory encoder and keeps only the low-res
        logits, pointers and scores; the memory is then encoded per chunk from the exclusive logits (the
        stored result, so a dropped memory is rebuilt exactly from it)."""
        objs, logits, ptrs, scores, ious = [], [], [], [], []
        for (cond, recent, ptr_frames), members in groups.items():
            for i in range(0, len(members), self.max_batch):
                chunk = [self.objects[o] for o in members[i:i + self.max_batch]]
                cond_out, non_cond = self.bank(chunk, cond, recent, ptr_frames)
                out = self.core.decode(f, batch=len(chunk), cond=cond_out, non_cond=non_cond, reverse=d == BACKWARD)
                objs += chunk
                logits.append(out.masks.float())
                ptrs.append(out.obj_ptr.float())
                scores.append(out.object_score.float())
                ious.append(out.iou.float())
        if not objs:
            return
        logits = self._exclusive(f, torch.cat(logits), objs)
        ptrs, scores, ious = torch.cat(ptrs), torch.cat(scores), torch.cat(ious)
        for i in range(0, len(objs), self.max_batch):
            part = slice(i, i + self.max_batch)
            memory = self.core.encode(f, logits[part], scores[part])
            for j, obj in enumerate(objs[part]):
                k = i + j
                obj.results[f] = FrameResult(logits[k:k + 1].clone(), ptrs[k:k + 1], float(scores[k, 0]),
                                             float(ious[k]), d, memory[j:j + 1])
                obj.holding_memory.add(f)

    def _exclusive(self, f: int, logits: torch.Tensor, objs: list[ObjectTrack]) -> torch.Tensor:
        """``(N, 1, h, w)`` logits of the objects just decoded on ``f``, made exclusive: where another
        object has the highest logit, clamped to -10 or below. The other objects with a result on ``f``
        compete as shown (holes filled) and are not changed: a prompted one wins wherever its mask is
        positive (a prompt owns its frame, as in the label image), a kept tracked result by its logit."""
        decoded = {id(o) for o in objs}
        rivals = []
        for obj in self.objects.values():
            r = obj.results.get(f)
            if r is None or id(obj) in decoded:
                continue
            shown = self.core.filled(r.logits).to(logits)
            if f in obj.prompts:
                shown = torch.where(shown > 0, torch.full_like(shown, float("inf")), shown)
            rivals.append(shown)
        every = torch.cat([logits, *rivals]) if rivals else logits
        if every.shape[0] == 1:
            return logits
        winner = every.argmax(dim=0, keepdim=True)
        own = torch.arange(logits.shape[0], device=logits.device)[:, None, None, None]
        return torch.where(winner == own, logits, logits.clamp(max=-10.0))

    def _track_batch(self, f: int, d: str, objs: list[ObjectTrack], cond: tuple, recent: tuple, ptrs: tuple) -> None:
        """Track ``objs``, which share the memory layout (``cond``, ``recent``, ``ptrs``), on ``f`` in one call."""
        cond_out, non_cond = self.bank(objs, cond, recent, ptrs)
        out = self.core.track(f, batch=len(objs), cond=cond_out, non_cond=non_cond, reverse=d == BACKWARD)
        for i, obj in enumerate(objs):
            obj.results[f] = FrameResult(out.masks[i:i + 1].float(), out.obj_ptr[i:i + 1].float(),
                                         float(out.object_score[i, 0]), float(out.iou[i]), d,
                                         out.memory[i:i + 1])
            obj.holding_memory.add(f)

    def bank(self, objs: list[ObjectTrack], cond: tuple, recent: tuple, ptrs: tuple) -> tuple[dict, dict]:
        """The memory bank of ``objs`` (one memory layout): prompted frames, then recent frames with their
        memory and pointer-only frames, each ``{frame: MemoryEntry}`` batched over the objects."""
        cond_out = {t: self.stacked(objs, t) for t in cond}
        non_cond = {t: self.stacked(objs, t, memory=t in recent) for t in sorted(set(recent) | set(ptrs))}
        return cond_out, non_cond

    def stacked(self, objs: list[ObjectTrack], t: int, memory: bool = True) -> MemoryEntry:
        """Frame ``t`` of several objects as one batched memory-bank entry."""
        ptrs = torch.cat([o.results[t].obj_ptr for o in objs], 0)
        return self.core.entry(ptrs, torch.cat([self.memory(o, t) for o in objs], 0) if memory else None)

    def memory(self, obj: ObjectTrack, t: int) -> torch.Tensor:
        r = obj.results[t]
        if r.memory is None:
            # A prompted frame's memory is made from the (hole-filled) mask the user sees, as the
            # official predictor does before tracking; a tracked frame's was dropped to bound RAM
            # and is rebuilt exactly from the frame and its stored logits.
            prompted = t in obj.prompts
            logits = self.core.filled(r.logits) if prompted else r.logits
            r.memory = self.core.memory(t, logits, torch.tensor([[r.score]], device=r.logits.device),
                                        from_prompt=prompted)
            if not prompted:
                self.recomputed_memories += 1
                obj.holding_memory.add(t)
        return r.memory

    def drop_far_memory(self, f: int, ids: list) -> None:
        reach = self.core.model.num_maskmem * self.core.model.cfg.memory_temporal_stride_for_eval
        for oid in ids:
            obj = self.objects[oid]
            for t in [t for t in obj.holding_memory if abs(t - f) > reach]:
                obj.holding_memory.discard(t)
                r = obj.results.get(t)
                if r is not None and t not in obj.prompts:
                    r.memory = None
