"""Official SAM 2 / SAM 2.1 checkpoints: registry, verified download, cache and offline use.

Where a checkpoint is looked for, in order:

1. a path you give (``build_sam2(..., checkpoint="file.pt")``);
2. ``$NAPARI_SAM2_CHECKPOINTS``: a folder of checkpoints for machines without network;
3. the cache folder (``$NAPARI_SAM2_CACHE``, else the platform's user cache, e.g.
   ``~/.cache/napari-sam2`` on Linux);
4. a download from the official URL (or ``$NAPARI_SAM2_MIRROR``, a base URL that serves
   the same file names), with pooch: into a temporary file that is checked and only then
   renamed, so a broken download never sits under the final name.

The bundled demo model (``napari_sam2_demo``, see :mod:`napari_sam2.train.demo`) ships inside
the package with a pinned SHA-256; :func:`default_model` falls back to it when no official
checkpoint is on this machine, so everything works offline (with demo quality).

The official project publishes no checksums. The SHA-256 of the first download is
recorded in the cache (``hashes.json``) and every later use is checked against it
(trust on first use); a mismatch is an error, never a silent re-use.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "NAPARI_SAM2_CACHE"
OFFLINE_ENV = "NAPARI_SAM2_CHECKPOINTS"
MIRROR_ENV = "NAPARI_SAM2_MIRROR"
_HASHES = "hashes.json"


class WeightsError(RuntimeError):
    """A checkpoint that cannot be found, fetched or trusted; the message says what to do."""


@dataclass(frozen=True)
class WeightInfo:
    """One official checkpoint. ``size_mb`` is approximate (for display)."""

    name: str
    url: str
    size_mb: int
    sha256: str | None = None
    licence: str = "Apache-2.0 (Meta, SAM 2)"

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def bundled(self) -> bool:
        return self.url.startswith(BUNDLED_PREFIX)


_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824"
_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_SIZES = {"tiny": 149, "small": 176, "base_plus": 309, "large": 857}

REGISTRY: dict[str, WeightInfo] = {}
for _size, _mb in _SIZES.items():
    for _prefix, _base in (("sam2", _SAM2), ("sam2.1", _SAM21)):
        _name = f"{_prefix}_hiera_{_size}"
        REGISTRY[_name] = WeightInfo(_name, f"{_base}/{_name}.pt", _mb)


BUNDLED_PREFIX = "bundled:"
DEMO_FILE = Path(__file__).parent / "demo" / "napari_sam2_demo.pt"
DEMO_SHA256 = "b11936fd0e38de6ae87a5ddc4d55bcc8443dabf747ae93c57bc3af1cdc711317"
DEMO_NOTICE = (
    "the bundled demo model: small and trained only on synthetic cells, NOT SAM 2 quality. "
    "For real work: napari-sam2 weights download sam2.1_hiera_tiny"
)
REGISTRY["napari_sam2_demo"] = WeightInfo(
    "napari_sam2_demo",
    BUNDLED_PREFIX + DEMO_FILE.name,
    6,
    DEMO_SHA256,
    licence="BSD-3-Clause (napari-sam2)",
)


# The official Hugging Face model ids (``facebook/sam2.1-hiera-base-plus``) of the official
# checkpoints: the same files as the registry's, fetched here from the registry's source and
# checked the same way.
HUB_IDS = {
    f"facebook/{name.replace('_hiera_', '-hiera-').replace('_', '-')}": name
    for name, info in REGISTRY.items()
    if not info.bundled
}


def hub_model(model_id: str) -> str:
    """The model name of an official Hugging Face model id, e.g. ``"facebook/sam2.1-hiera-tiny"`` ->
    ``"sam2.1_hiera_tiny"``; a WeightsError listing the known ids for any other."""
    name = HUB_IDS.get(model_id.strip()) if isinstance(model_id, str) else None
    if name is None:
        raise WeightsError(
            f"unknown model id {model_id!r}: from_pretrained knows the official ids "
            f"{', '.join(HUB_IDS)}"
        )
    return name


def default_model(preferred: str = "sam2.1_hiera_tiny") -> str:
    """``preferred`` when its official checkpoint is on this machine (offline folder or cache), else the demo."""
    try:
        if cached_path(preferred) is not None:
            return _info(preferred).name
    except WeightsError:
        pass
    return "napari_sam2_demo"


def cache_dir() -> Path:
    """Where downloads go: ``$NAPARI_SAM2_CACHE`` or the platform's user cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("napari-sam2"))


def _info(name: str) -> WeightInfo:
    from .model.configs import get_config

    try:
        key = get_config(name).name
    except ValueError as exc:
        raise WeightsError(str(exc)) from None
    return REGISTRY[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / _HASHES).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _record(folder: Path, filename: str, sha: str) -> None:
    hashes = _recorded(folder)
    hashes[filename] = sha
    tmp = folder / (_HASHES + ".tmp")
    tmp.write_text(json.dumps(hashes, indent=1, sort_keys=True))
    tmp.replace(folder / _HASHES)


def _expected_hash(info: WeightInfo, folder: Path) -> str | None:
    return info.sha256 or _recorded(folder).get(info.filename)


def _verify(path: Path, expected: str | None, where: str) -> None:
    if expected is None:
        return
    actual = _sha256(path)
    if actual != expected:
        raise WeightsError(
            f"{path} does not match the checksum {where} (expected sha256 {expected}, found {actual}); "
            f"the file is damaged or not the official one: delete it and download it again"
        )


def where_to_put(name: str) -> str:
    """How to make model ``name``'s checkpoint available without network (a sentence fragment)."""
    return _where_to_put(_info(name))


def _where_to_put(info: WeightInfo) -> str:
    return (
        f"download {info.url} on a machine with network and either put it at "
        f"{cache_dir() / info.filename}, or set {OFFLINE_ENV} to a folder that holds {info.filename}, "
        f"or pass its path as checkpoint=..."
    )


def cached_path(name: str) -> Path | None:
    """The checkpoint's local file if there is one (offline folder or cache), checked; else None."""
    info = _info(name)
    if info.bundled:
        if not DEMO_FILE.is_file():
            raise WeightsError(
                f"the bundled demo weights are missing from the installation ({DEMO_FILE})"
            )
        if _sha256(DEMO_FILE) != info.sha256:
            raise WeightsError(
                f"the bundled demo weights {DEMO_FILE} do not match their pinned SHA-256 "
                f"({info.sha256}): the installation is damaged; reinstall napari-sam2"
            )
        return DEMO_FILE
    offline = os.environ.get(OFFLINE_ENV)
    if offline:
        candidate = Path(offline).expanduser() / info.filename
        if candidate.is_file():
            _verify(candidate, info.sha256, "in the registry")
            return candidate
    folder = cache_dir()
    candidate = folder / info.filename
    if candidate.is_file():
        _verify(candidate, _expected_hash(info, folder), "recorded at its first download")
        return candidate
    return None


def download(name: str, progressbar=False, retries: int = 2) -> Path:
    """Make sure the checkpoint ``name`` is available locally and return its path.

    progressbar: True for a text bar, or an object with ``total``, ``update``, ``reset``
    and ``close`` (napari's ``progress`` works) to report bytes received.
    """
    local = cached_path(name)
    if local is not None:
        return local
    import pooch

    info = _info(name)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get(MIRROR_ENV)
    url = f"{mirror.rstrip('/')}/{info.filename}" if mirror else info.url
    expected = _expected_hash(info, folder)
    fetcher = pooch.create(
        path=folder,
        base_url="",
        registry={info.filename: expected and f"sha256:{expected}"},
        urls={info.filename: url},
        retry_if_failed=retries,
    )
    pooch.get_logger().setLevel("WARNING")
    try:
        path = Path(fetcher.fetch(info.filename, progressbar=progressbar))
    except ValueError as exc:  # pooch's checksum mismatch; it has removed the download
        raise WeightsError(
            f"the download of {name} from {url} failed its checksum: {exc}"
        ) from None
    except Exception as exc:  # network errors of every kind
        raise WeightsError(
            f"could not download {name} from {url} ({exc.__class__.__name__}: {exc}). "
            f"Without network, {_where_to_put(info)}"
        ) from None
    if expected is None:
        _record(folder, info.filename, _sha256(path))
    return path


def resolve_checkpoint(
    name: str, checkpoint=None, allow_download: bool = True, progressbar=False
) -> Path:
    """The file to load for model ``name``: ``checkpoint`` if it is a path, otherwise the
    offline folder, the cache, or (``allow_download``) a verified download."""
    if checkpoint not in (None, "auto"):
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsError(f"checkpoint file not found: {path}")
        return path
    local = cached_path(name)
    if local is not None:
        return local
    if not allow_download:
        raise WeightsError(f"no local checkpoint for {name}: {_where_to_put(_info(name))}")
    return download(name, progressbar=progressbar)
