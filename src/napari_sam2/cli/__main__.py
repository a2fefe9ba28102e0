"""``python -m napari_sam2.cli``: the same as the ``napari-sam2`` command."""

import sys

from . import main

sys.exit(main())
