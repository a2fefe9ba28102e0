"""The command line's commands, one module each; the parser, ``main`` and exit-code handling are in napari_sam2.cli."""
