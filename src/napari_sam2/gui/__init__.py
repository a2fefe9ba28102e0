"""The napari plugin: the dock widget (:mod:`.widget`, assembled from :mod:`.panels` over one
Qt-free
:mod:`.controller`), the reader, writer and sample data of the manifest (``napari.yaml``).

Nothing here is imported by the library or the command line; napari imports these modules through
the manifest, only when a contribution is used.
"""
