"""``napari-sam2 weights list|download|path``: the official checkpoints on this machine."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help="list, download or locate the official checkpoints")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="all known checkpoints and whether they are here")
    for action, text in (
        ("download", "download (verified) into the cache"),
        ("path", "print the local file"),
    ):
        a = actions.add_parser(action, help=text)
        a.add_argument(
            "name", help="a checkpoint name from 'napari-sam2 weights list', e.g. sam2.1_hiera_tiny"
        )


def run(args: argparse.Namespace) -> int:
    from .. import weights

    if args.action == "list":
        print(f"cache: {weights.cache_dir()}")
        for name, info in weights.REGISTRY.items():
            local = weights.cached_path(name)
            where = (
                ("bundled demo (not SAM 2 quality): " if info.bundled else "here: ") + str(local)
                if local
                else "not downloaded"
            )
            print(f"{name:<24} ~{info.size_mb:>4} MB  {where}")
        print(f"'auto' uses: {weights.default_model()}")
        return 0
    if args.action == "download":
        print(weights.download(args.name, progressbar=sys.stderr.isatty()))
        return 0
    print(weights.resolve_checkpoint(args.name, allow_download=False))
    return 0
