"""Computing tracked frames for a session's objects on the tracker core: objects that share a memory layout
(and, in window mode, a window) in batches of at most ``max_batch``, optionally with exclusive
pixels or neighbour-resolved memory, their memory rebuilt when it had been dropped or made in
another window, and dropped again once no frame can use it."""

from __future__ import annotations

from typing import Mapping

import torch

from ..model.memory_bank import MemoryEntry
from ..predictor.core import TrackerCore
from . import neighbours
from .results import BACKWARD, FORWARD, FrameResult, ObjectTrack
from .suspects import measure
from .windows import Window, follow, move, overlap


class FrameTracker:
    """Tracks frames for the objects of one session (``objects``: the session's live ``{id: ObjectTrack}``).
    ``shape``: the frame's (H, W) for window mode (:mod:`~napari_sam2.engine.windows`), None for
    whole frames. ``memory``: "official", or "resolved" (:mod:`~napari_sam2.engine.neighbours`)."""

    def __init__(
        self,
        core: TrackerCore,
        objects: Mapping[int, ObjectTrack],
        max_batch: int,
        exclusive: bool,
        shape: tuple[int, int] | None = None,
        memory: str = "official",
    ) -> None:
        self.core, self.objects, self.max_batch, self.exclusive = (
            core,
            objects,
            max_batch,
            exclusive,
        )
        self.shape, self.resolved = shape, memory == "resolved"
        self.recomputed_memories = 0
        self.moved_memories = 0

    def track(self, f: int, d: str, groups: dict) -> None:
        """Track frame ``f`` in direction ``d`` for ``groups``: ``{(prompted, recent, pointer frames): [ids]}``.

        Objects of one memory layout go through the model together in batches of ``max_batch``,
        whatever window each is tracked in (each attends to its own memory in its own window's
        features), and every window the frame needs is encoded first, in batches."""
        where = {
            oid: self.window_on(self.objects[oid], f, d, layout)
            for layout, members in groups.items()
            for oid in members
        }
        self.core.features.prefetch(f, list(where.values()))
        chunks = [
            (layout, members[i : i + self.max_batch])
            for layout, members in groups.items()
            for i in range(0, len(members), self.max_batch)  # peak memory follows max_batch
        ]
        if self.exclusive or self.resolved:
            self._track_exclusive(f, d, chunks, where)
            return
        for layout, ids in chunks:
            self._track_batch(f, d, [self.objects[o] for o in ids], layout, [where[o] for o in ids])

    def window_on(self, obj: ObjectTrack, f: int, d: str, layout: tuple) -> Window | None:
        """Where ``obj`` is tracked on ``f``: the window of its result on the frame before in the pass's
        direction, followed (:func:`~napari_sam2.engine.windows.follow`); without one, that of the nearest
        frame of its memory bank."""
        if self.shape is None:
            return None
        r = obj.results.get(f - 1 if d == FORWARD else f + 1)
        if r is None:
            cond, recent, _ = layout
            r = obj.results[min(cond + recent, key=lambda t: abs(t - f))]
        return follow(r.window, r.logits, self.shape)

    def _track_exclusive(self, f: int, d: str, chunks: list, where: dict) -> None:
        """Track every chunk ``(layout, ids)`` on ``f`` (``where``: each object's window), make the masks
        exclusive across all of them, then encode their memory.

        Decoding runs chunk by chunk without the memory encoder and keeps only the low-res
        logits, pointers and scores; the memory is then encoded in batches of ``max_batch`` from
        the exclusive logits (the stored result, so a dropped memory is rebuilt exactly from it).
        With resolved memory, contested pixels go by logit and motion fit, and each memory is made
        from the mask moved by its lag (stored with the result). With exclusive pixels (not
        resolved memory) the suspect checks measure overlaps on the masks as decoded
        (:mod:`~napari_sam2.engine.suspects`)."""
        objs, windows, logits, ptrs, scores, ious = [], [], [], [], [], []
        for layout, ids in chunks:
            chunk, in_windows = [self.objects[o] for o in ids], [where[o] for o in ids]
            out = self._step(self.core.decode, f, d, chunk, layout, in_windows)
            objs += chunk
            windows += in_windows
            logits.append(out.masks.float())
            ptrs.append(out.obj_ptr.float())
            scores.append(out.object_score.float())
            ious.append(out.iou.float())
        if not objs:
            return
        decoded = torch.cat(logits)
        shape = (self.core.frames.height, self.core.frames.width)
        lags = [None] * len(objs)
        if self.resolved:
            motion = [neighbours.predicted(o, f, d, shape) for o in objs]
            ranks = neighbours.motion_ranks(f, d, decoded, objs, windows, shape, motion)
            logits = self._exclusive(f, decoded, objs, windows, ranks)
            lags = [
                neighbours.lag(o, f, d, logits[k : k + 1], windows[k], shape, motion[k])
                for k, o in enumerate(objs)
            ]
        else:
            logits = self._exclusive(f, decoded, objs, windows)
        ptrs, scores, ious = torch.cat(ptrs), torch.cat(scores), torch.cat(ious)
        for i in range(0, len(objs), self.max_batch):
            end = min(i + self.max_batch, len(objs))
            seen = torch.cat(
                [neighbours.shifted(logits[k : k + 1], lags[k]) for k in range(i, end)]
            )
            memory = self.core.encode(f, seen, scores[i:end], window=windows[i:end])
            for k in range(i, end):
                raw = None if self.resolved else measure(decoded[k : k + 1], windows[k], shape)
                objs[k].results[f] = FrameResult(
                    logits[k : k + 1].clone(),
                    ptrs[k : k + 1],
                    float(scores[k, 0]),
                    float(ious[k]),
                    d,
                    memory[k - i : k - i + 1],
                    window=windows[k],
                    memory_window=windows[k],
                    memory_shift=lags[k],
                    decoded=raw,
                )
                objs[k].holding_memory.add(f)

    def _exclusive(
        self,
        f: int,
        logits: torch.Tensor,
        objs: list[ObjectTrack],
        windows: list,
        ranks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(N, 1, h, w)`` logits of the objects just decoded on ``f`` (each in its window of ``windows``),
        made exclusive: where another object has the highest logit (of ``ranks``, where given),
        clamped to -10 or below. The other
        objects with a result on ``f`` compete as shown (holes filled) and are not changed: a prompted one
        wins wherever its mask is positive (a prompt owns its frame, as in the label image), a kept tracked
        result by its logit. In window mode every object is compared in its own window."""
        decoded = {id(o) for o in objs}
        rivals, rival_windows = [], []
        for obj in self.objects.values():
            r = obj.results.get(f)
            if r is None or id(obj) in decoded:
                continue
            shown = self.core.filled(r.logits).to(logits)
            if f in obj.prompts:
                shown = torch.where(shown > 0, torch.full_like(shown, float("inf")), shown)
            rivals.append(shown)
            rival_windows.append(r.window)
        if logits.shape[0] + len(rivals) == 1:
            return logits
        every = torch.cat([logits if ranks is None else ranks, *rivals])
        sources = windows + rival_windows
        out = logits.clone()
        for window in dict.fromkeys(windows):
            # only objects whose windows overlap this one can claim its pixels (the others are
            # NO_OBJECT there, below any logit that the clamp would change)
            near = [i for i, w in enumerate(sources) if overlap(w, window)]
            seen = torch.cat([move(every[i : i + 1], sources[i], window) for i in near])
            # (max's indices: the first largest, as argmax's, and three times faster over dim 0 here)
            winner = torch.tensor(near)[seen.max(dim=0).indices]
            for i, w in enumerate(windows):
                if w == window:
                    out[i] = torch.where(winner == i, logits[i], logits[i].clamp(max=-10.0))
        return out

    def _track_batch(
        self, f: int, d: str, objs: list[ObjectTrack], layout: tuple, windows: list
    ) -> None:
        """Track ``objs``, which share the memory ``layout``, on ``f`` in one call, each in its window of
        ``windows``."""
        out = self._step(self.core.track, f, d, objs, layout, windows)
        for i, obj in enumerate(objs):
            obj.results[f] = FrameResult(
                out.masks[i : i + 1].float(),
                out.obj_ptr[i : i + 1].float(),
                float(out.object_score[i, 0]),
                float(out.iou[i]),
                d,
                out.memory[i : i + 1],
                window=windows[i],
                memory_window=windows[i],
            )
            obj.holding_memory.add(f)

    def _step(self, step, f: int, d: str, objs: list[ObjectTrack], layout: tuple, windows: list):
        """``step`` (the core's ``track`` or ``decode``) of ``objs`` on ``f`` from their memory bank."""
        cond_out, non_cond = self.bank(objs, layout, windows)
        return step(
            f,
            batch=len(objs),
            cond=cond_out,
            non_cond=non_cond,
            reverse=d == BACKWARD,
            window=windows,
        )

    def bank(self, objs: list[ObjectTrack], layout: tuple, windows: list) -> tuple[dict, dict]:
        """The memory bank of ``objs`` (one memory ``layout``: prompted, recent and pointer-only frames),
        each ``{frame: MemoryEntry}`` batched over the objects, with each object's memory as seen from
        its window of ``windows``."""
        cond, recent, ptrs = layout
        cond_out = {t: self.stacked(objs, t, windows) for t in cond}
        non_cond = {
            t: self.stacked(objs, t, windows, memory=t in recent)
            for t in sorted(set(recent) | set(ptrs))
        }
        return cond_out, non_cond

    def stacked(
        self, objs: list[ObjectTrack], t: int, windows: list, memory: bool = True
    ) -> MemoryEntry:
        """Frame ``t`` of several objects as one batched memory-bank entry."""
        ptrs = torch.cat([o.results[t].obj_ptr for o in objs], 0)
        if not memory:
            return self.core.entry(ptrs)
        self._encode_missing(objs, t, windows)
        return self.core.entry(ptrs, torch.cat([o.results[t].memory for o in objs], 0))

    def memory(self, obj: ObjectTrack, t: int, window: Window | None = None) -> torch.Tensor:
        """``obj``'s memory of frame ``t`` as seen from ``window``: kept, rebuilt or moved there."""
        self._encode_missing([obj], t, [window])
        return obj.results[t].memory

    def _encode_missing(self, objs: list[ObjectTrack], t: int, windows: list) -> None:
        """Encode the memories of frame ``t`` that ``objs`` lack in their ``windows``, ``max_batch`` at
        a time (prompted frames apart from tracked ones), and keep them with their results."""
        todo = [
            (o, w)
            for o, w in zip(objs, windows)
            if o.results[t].memory is None or o.results[t].memory_window != w
        ]
        for prompted in (True, False):
            part = [(o, w) for o, w in todo if (t in o.prompts) == prompted]
            for i in range(0, len(part), self.max_batch):
                chunk = part[i : i + self.max_batch]
                logits = torch.cat([self._memory_logits(o, t, w) for o, w in chunk])
                memory = self.core.memory(
                    t,
                    logits,
                    torch.tensor([[o.results[t].score] for o, _ in chunk], device=logits.device),
                    from_prompt=prompted,
                    window=[w for _, w in chunk],
                )
                for k, (o, w) in enumerate(chunk):
                    self._keep(o, t, w, memory[k : k + 1])

    def _memory_logits(self, obj: ObjectTrack, t: int, window: Window | None) -> torch.Tensor:
        """The mask ``obj``'s memory of frame ``t`` is made from, as seen from ``window``.

        A prompted frame's memory is made from the (hole-filled) mask the user sees, as the official
        predictor does before tracking; a tracked frame's was dropped to bound RAM and is rebuilt
        exactly from the frame and its stored logits (moved by its lag, with resolved memory); one
        made in another window is encoded again in this one from the same mask, moved by the
        windows' offset."""
        r = obj.results[t]
        if t in obj.prompts:
            logits = self.core.filled(r.logits)
        else:
            logits = neighbours.shifted(r.logits, r.memory_shift)
        return move(logits, r.window, window)

    def _keep(self, obj: ObjectTrack, t: int, window: Window | None, memory: torch.Tensor) -> None:
        r = obj.results[t]
        moved = r.window != window
        r.memory, r.memory_window = memory, window
        self.moved_memories += moved
        if t not in obj.prompts:
            self.recomputed_memories += not moved
            obj.holding_memory.add(t)

    def drop_far_memory(self, f: int, ids: list) -> None:
        reach = self.core.model.num_maskmem * self.core.model.cfg.memory_temporal_stride_for_eval
        for oid in ids:
            obj = self.objects[oid]
            for t in [t for t in obj.holding_memory if abs(t - f) > reach]:
                obj.holding_memory.discard(t)
                r = obj.results.get(t)
                if r is not None and t not in obj.prompts:
                    r.memory = None
