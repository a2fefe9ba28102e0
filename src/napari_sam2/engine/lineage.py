"""A session's lineage: which object divided on which frame into which daughters, and so on which frames each
object lives (a daughter from its division on, a mother up to the frame before it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Lineage:
    """``parents``: daughter -> mother; ``ends``: a divided mother -> its last frame; ``starts``: a daughter ->
    its first frame."""

    parents: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    starts: dict[int, int] = field(default_factory=dict)

    def alive(self, obj_id: int, frame: int) -> bool:
        """Whether ``obj_id`` lives on ``frame`` (not before its division as a daughter, nor after it as a mother)."""
        return self.starts.get(obj_id, 0) <= frame <= self.ends.get(obj_id, frame)

    def check_prompt(self, obj_id: int, frame: int) -> None:
        """Refuse a prompt for ``obj_id`` on a frame where it does not live."""
        if frame < self.starts.get(obj_id, 0):
            raise ValueError(
                f"object {obj_id} is a daughter that starts at frame {self.starts[obj_id]}; "
                f"it cannot be prompted on frame {frame}"
            )
        if frame > self.ends.get(obj_id, frame):
            raise ValueError(
                f"object {obj_id} divided after frame {self.ends[obj_id]}; "
                f"it cannot be prompted on frame {frame}"
            )

    def mark(self, parent: int, frame: int, daughters: list[int]) -> None:
        """Record that ``parent`` divides at ``frame`` into ``daughters`` (checked by the session)."""
        self.ends[parent] = frame - 1
        for d in daughters:
            self.parents[d], self.starts[d] = parent, frame

    def forget(self, obj_id: int) -> None:
        """``obj_id`` is gone: it divides no more, and its daughters become roots."""
        self.ends.pop(obj_id, None)
        self.parents = {d: p for d, p in self.parents.items() if p != obj_id and d != obj_id}
        self.starts = {d: f for d, f in self.starts.items() if d in self.parents}

    def clear(self) -> None:
        self.parents, self.ends, self.starts = {}, {}, {}

    def divisions(self) -> list[dict]:
        """``[{"parent", "frame", "daughters"}]``, the layout of a session file."""
        return [
            {
                "parent": p,
                "frame": self.ends[p] + 1,
                "daughters": sorted(d for d, q in self.parents.items() if q == p),
            }
            for p in sorted(self.ends)
        ]
