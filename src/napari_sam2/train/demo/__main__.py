"""``python -m napari_sam2.train.demo``: the demo model's recipe (:mod:`.recipe`)."""

import sys

from .recipe import main

sys.exit(main())
