"""Torch-free file formats: frame readers, label and lineage exports, CTC evaluation (no torch, napari or Qt)."""
