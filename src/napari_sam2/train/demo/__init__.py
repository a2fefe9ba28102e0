"""The bundled demo model: its recipes (:mod:`.recipe`: phases 1-3; :mod:`.v2`: demo v2; :mod:`.decoder_tune`:
demo v3; :mod:`.blend`), the movies and worlds they train on (:mod:`.movies`, :mod:`.world`).
``python -m napari_sam2.train.demo`` runs the recipe. Imports go one way: recipe -> v2 -> movies."""
