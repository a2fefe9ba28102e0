"""Checkpoint registry and download, against a loopback HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from napari_sam2 import build_sam2
from napari_sam2 import weights
from napari_sam2.cli import main
from napari_sam2.model import build_model, get_config

from loopback import Server

NAME = "sam2.1_hiera_tiny"
FILE = "sam2.1_hiera_tiny.pt"


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    torch.manual_seed(9)
    model = build_model(get_config(NAME).with_image_size(256))
    path = tmp_path_factory.mktemp("ckpt") / FILE
    torch.save({"model": model.state_dict()}, path)
    return path.read_bytes(), model.state_dict()


@pytest.fixture
def served(tmp_path, checkpoint_bytes, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    (root / FILE).write_bytes(checkpoint_bytes[0])
    server = Server(root)
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(weights.MIRROR_ENV, server.url)
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    yield server
    server.stop()


def _cache_files(tmp_path):
    folder = tmp_path / "cache"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_registry_covers_all_models():
    assert len(weights.REGISTRY) == 9
    assert sum(info.bundled for info in weights.REGISTRY.values()) == 1
    assert weights.REGISTRY["sam2.1_hiera_large"].url.endswith("/092824/sam2.1_hiera_large.pt")
    assert weights.REGISTRY["sam2_hiera_base_plus"].url.endswith("/072824/sam2_hiera_base_plus.pt")


class Progress:
    """The progress-bar protocol pooch drives (napari's `progress` has the same methods)."""

    def __init__(self):
        self.total, self.done, self.closed = None, 0, False

    def update(self, n):
        self.done += n

    def reset(self):
        self.done = 0

    def close(self):
        self.closed = True


def test_download_then_cache_hit_without_network(served, tmp_path, checkpoint_bytes):
    bar = Progress()
    path = weights.download(NAME, progressbar=bar)
    assert bar.total == len(checkpoint_bytes[0]) and bar.closed
    assert path == tmp_path / "cache" / FILE
    assert path.read_bytes() == checkpoint_bytes[0]
    recorded = weights._recorded(tmp_path / "cache")[FILE]
    assert recorded == hashlib.sha256(checkpoint_bytes[0]).hexdigest()
    served.stop()  # no network from here on
    requests = served.requests
    model = build_sam2(NAME, checkpoint="auto", image_size=256)
    assert served.requests == requests == 1
    assert all(torch.equal(v, checkpoint_bytes[1][k]) for k, v in model.state_dict().items())


def test_corrupted_download_is_refused_and_removed(served, tmp_path, monkeypatch):
    known = weights.REGISTRY[NAME]
    monkeypatch.setitem(
        weights.REGISTRY, NAME, weights.WeightInfo(NAME, known.url, 1, sha256="0" * 64)
    )
    with pytest.raises(weights.WeightsError, match="checksum"):
        weights.download(NAME, retries=0)
    assert FILE not in _cache_files(tmp_path)
    assert not any(name.endswith(".pt") or "tmp" in name for name in _cache_files(tmp_path))


def test_damaged_cached_file_is_an_error(served, tmp_path):
    path = weights.download(NAME)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match="does not match the checksum recorded"):
        build_sam2(NAME, checkpoint="auto", image_size=256)


def test_interrupted_download_is_retried(served, tmp_path, checkpoint_bytes):
    served.cut_first = 1
    path = weights.download(NAME, retries=2)
    assert served.requests == 2
    assert path.read_bytes() == checkpoint_bytes[0]
    assert _cache_files(tmp_path) == ["hashes.json", FILE]


def test_interrupted_download_without_retry_leaves_nothing(served, tmp_path, checkpoint_bytes):
    served.cut_first = 1
    with pytest.raises(weights.WeightsError, match="could not download"):
        weights.download(NAME, retries=0)
    assert _cache_files(tmp_path) == []
    assert weights.download(NAME, retries=0).read_bytes() == checkpoint_bytes[0]  # a new try works


def test_offline_folder_and_explicit_path(tmp_path, checkpoint_bytes, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / FILE).write_bytes(checkpoint_bytes[0])
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(weights.OFFLINE_ENV, str(offline))
    monkeypatch.setenv(
        weights.MIRROR_ENV, "http://127.0.0.1:9"
    )  # nothing listens: any download fails
    assert weights.resolve_checkpoint(NAME) == offline / FILE
    assert weights.resolve_checkpoint(NAME, checkpoint=offline / FILE) == offline / FILE
    with pytest.raises(weights.WeightsError, match="checkpoint file not found"):
        weights.resolve_checkpoint(NAME, checkpoint=tmp_path / "nope.pt")


def test_no_network_error_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(weights.MIRROR_ENV, "http://127.0.0.1:9")
    with pytest.raises(weights.WeightsError) as err:
        weights.download(NAME, retries=0)
    text = str(err.value)
    assert (
        "could not download" in text
        and str(tmp_path / "cache" / FILE) in text
        and weights.OFFLINE_ENV in text
    )
    with pytest.raises(weights.WeightsError, match="no local checkpoint"):
        weights.resolve_checkpoint(NAME, allow_download=False)
    assert _cache_files(tmp_path) == []


def test_unknown_name():
    with pytest.raises(weights.WeightsError, match="unknown model"):
        weights.download("sam9_hiera_tiny")


def test_cli_weights(served, tmp_path, capsys):
    assert main(["weights", "path", NAME]) == 2
    assert "no local checkpoint" in capsys.readouterr().err
    assert main(["weights", "download", NAME]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cache" / FILE)
    assert main(["weights", "path", NAME]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cache" / FILE)
    assert main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"{NAME}" in listing and "here:" in listing and "sam2_hiera_large" in listing
    assert "bundled demo (not SAM 2 quality)" in listing and f"'auto' uses: {NAME}" in listing


def test_bundled_demo_is_verified_and_is_the_offline_default(
    tmp_path, monkeypatch, checkpoint_bytes
):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(weights.MIRROR_ENV, "http://127.0.0.1:9")  # no network
    assert weights.default_model() == "napari_sam2_demo"
    demo = weights.resolve_checkpoint("demo")
    assert demo == weights.DEMO_FILE and weights._sha256(demo) == weights.DEMO_SHA256
    # a damaged installation is named, not loaded
    broken = tmp_path / "napari_sam2_demo.pt"
    broken.write_bytes(demo.read_bytes()[:-10])
    monkeypatch.setattr(weights, "DEMO_FILE", broken)
    with pytest.raises(weights.WeightsError, match="SHA-256|sha256|checksum"):
        weights.resolve_checkpoint("demo")
    # with the official tiny checkpoint in the offline folder, "auto" picks it
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "sam2.1_hiera_tiny.pt").write_bytes(checkpoint_bytes[0])
    monkeypatch.setenv(weights.OFFLINE_ENV, str(offline))
    assert weights.default_model() == "sam2.1_hiera_tiny"


INNER_TEST = """
import os
from napari_sam2 import threads, weights

def test_sees_nothing_of_the_machine():
    assert weights.cached_path("sam2.1_hiera_tiny") is None
    assert weights.default_model() == "napari_sam2_demo"
    assert "NAPARI_SAM2_CHECKPOINTS" not in os.environ and "NAPARI_SAM2_THREADS" not in os.environ
    threads.default_threads()  # the planted, invalid thread count is not read
"""


def test_tests_never_see_the_users_cache_or_settings(tmp_path):
    """Run a test under the suite's conftest in a process whose environment holds a checkpoint in
    every place a user's machine could (the platform cache of its home, $NAPARI_SAM2_CACHE,
    $NAPARI_SAM2_CHECKPOINTS) and a bad NAPARI_SAM2_THREADS: the test must see none of them."""
    import os
    import shutil
    import subprocess
    import sys

    home = tmp_path / "home"
    planted = [home / ".cache" / "napari-sam2", tmp_path / "user-cache", tmp_path / "user-offline"]
    for folder in planted:
        folder.mkdir(parents=True)
        (folder / FILE).write_bytes(b"a checkpoint the tests must not use")
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        NAPARI_SAM2_CACHE=str(planted[1]),
        NAPARI_SAM2_CHECKPOINTS=str(planted[2]),
        NAPARI_SAM2_THREADS="not a number",
    )
    # control: without the conftest fixture the planted files are found
    probe = "from napari_sam2 import weights; print(weights.cached_path('sam2.1_hiera_tiny'))"
    seen = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert seen.stdout.strip() == str(planted[2] / FILE)
    del env["NAPARI_SAM2_CHECKPOINTS"], env["NAPARI_SAM2_CACHE"]
    seen = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert seen.stdout.strip() == str(planted[0] / FILE)
    env.update(NAPARI_SAM2_CACHE=str(planted[1]), NAPARI_SAM2_CHECKPOINTS=str(planted[2]))

    inner = tmp_path / "inner"
    inner.mkdir()
    for name in (
        "conftest.py",
        "widget_fixtures.py",
    ):  # the conftest loads the GUI fixtures as a plugin
        shutil.copy(Path(__file__).parent / name, inner / name)
    (inner / "test_inner.py").write_text(INNER_TEST)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(inner),
            str(inner),
        ],
        cwd=inner,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
