"""``napari-sam2 weights list|download|path``: the official checkpoints on this machine."""

from __future__ import annotations

import argparse
import sys


def run_weights(args: argparse.Namespace) -> int:
    from .. import weights

    if args.action == "list":
        print(f"cache: {weights.cache_dir()}")
        for name, info in weights.REGISTRY.items():
            local = weights.cached_path(name)
            where = ("bundled demo (not SAM 2 quality): " if info.bundled else "here: ") + str(local) if local \
                else "not downloaded"
            print(f"{name:<24} ~{info.size_mb:>4} MB  {where}")
        print(f"'auto' uses: {weights.default_model()}")
        return 0
    if args.action == "download":
        print(weights.download(args.name, progressbar=sys.stderr.isatty()))
        return 0
    print(weights.resolve_checkpoint(args.name, allow_download=False))
    return 0

