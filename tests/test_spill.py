"""Results at scale: far results spilled to a temporary file change no label, correction or record."""

import numpy as np
import pytest
import torch

from napari_sam2.engine.results import FrameResult
from napari_sam2.engine.session import TrackingSession
from napari_sam2.engine.spill import KEEP_NEAR, SpillFile
from napari_sam2.predictor.video_predictor import build_sam2_video_predictor
from napari_sam2.settings import SettingError, TrackingSettings
from napari_sam2.synthetic import synthetic_cells


@pytest.fixture(scope="module")
def demo():
    return build_sam2_video_predictor("demo").model


def _held(session) -> int:
    return sum(r.nbytes for o in session.objects.values() for r in o.results.values() if r.in_ram)


def test_spilled_results_give_the_same_labels_corrections_and_records(demo):
    image, truth = synthetic_cells(n_frames=30, size=(256, 256), n_cells=3, seed=3)
    runs = {}
    for ram in (1024.0, 0.2):  # MB: all 90 results (16 KB each) in RAM, or about 12 of them
        s = TrackingSession(demo, image, results_ram=ram)
        s.add_labels(0, truth[0])
        s.propagate()
        runs[ram] = s
    kept, spilled = runs[1024.0], runs[0.2]
    assert kept.spill.spilled == 0 and spilled.spill.spilled > 0
    # only the frames near the last one tracked stay (and the prompted frame)
    far = [
        f
        for o in spilled.objects.values()
        for f, r in o.results.items()
        if r.in_ram and f not in o.prompts
    ]
    assert min(far) >= 29 - KEEP_NEAR, sorted(far)
    assert spilled.spill.spilled + len(far) + 3 == 90  # the rest went to the file, once each
    assert _held(spilled) < _held(kept) and spilled.spill.file.nbytes == 16384 * (90 - 3 - len(far))
    assert np.array_equal(spilled.labels(), kept.labels())
    assert spilled.records() == kept.records()
    # a correction on an early (spilled) frame rebuilds memory from the logits read back
    y, x = np.argwhere(truth[4] == 2).mean(0)
    for s in (kept, spilled):
        s.correct(4, 2, points=[[x + 3, y]], labels=[1])
    assert not all(o.results[3].in_ram for o in spilled.objects.values())
    assert np.array_equal(spilled.labels(), kept.labels())
    for oid in kept.objects:
        for f in (3, 10, 29):
            assert torch.equal(
                spilled.objects[oid].results[f].logits, kept.objects[oid].results[f].logits
            )


def test_a_spilled_result_reads_back_bit_for_bit_and_a_short_file_is_named():
    logits = torch.randn(1, 1, 8, 8)
    r = FrameResult(logits.clone(), torch.zeros(1, 4), 1.0, 0.9, "forward")
    file = SpillFile()
    r.spill(file)
    assert not r.in_ram and r.nbytes == logits.nbytes == file.nbytes
    assert torch.equal(r.logits, logits) and not r.lost
    file._file.truncate(100)
    with pytest.raises(OSError, match="spilled results.*shorter than written"):
        r.logits  # noqa: B018
    file.close()


def test_the_bound_must_be_positive():
    with pytest.raises(SettingError, match="results_ram"):
        TrackingSettings(results_ram=0)
