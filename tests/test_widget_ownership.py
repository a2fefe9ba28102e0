"""In the widget, a frame the user prompted for an object shows that object, even where a tracked
neighbour's mask is stronger; the neighbour is then reported as hidden under it (issue: a box drawn
on cell 6 left it purple)."""

from __future__ import annotations

import numpy as np
import pytest

from widget_fixtures import centre, wait

pytestmark = pytest.mark.gui


def test_a_prompted_frame_shows_its_object_over_a_stronger_tracked_neighbour(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    c.propagate("forward")
    wait(qtbot, widget)
    cell = truth[4] == 1
    assert (out.data[4][cell] == 1).mean() > 0.5  # object 1 is tracked onto its cell
    # a drifting neighbour: object 1's mask on frame 4 far stronger than any prompt's
    result = c.session.objects[1].results[4]
    result.logits = result.logits + 50.0
    c.add_object()
    ys, xs = np.nonzero(cell)
    c.add_box(4, ys.min(), xs.min(), ys.max(), xs.max())  # object 2, boxed on that cell on frame 4
    wait(qtbot, widget)
    mask2 = c.session.object_logits(4, 2) > 0
    assert mask2.any()
    assert (out.data[4][mask2] == 2).all()  # the boxed object owns its prompted frame on screen
    assert np.array_equal(out.data[4], c.session.label_frame(4))
    assert (out.data[5] == 1).any() and not (
        out.data[5] == 2
    ).any()  # other frames keep the max-logit rule
