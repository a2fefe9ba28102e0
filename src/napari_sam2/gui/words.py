"""The widget's words in one place: layer names, keyboard shortcuts, the tooltips of its buttons and
of the controls that are not settings, and what the widget adds to a setting's help (no Qt, no model
code).

A setting's tooltip is its help in :mod:`napari_sam2.settings` (see :mod:`.settings_form`); the
notes here add only what is true of the widget, such as the slider that holds the fourth axis.
"""

from __future__ import annotations

import re

DOCS = "https://github.com/napari-sam2/napari-sam2"

CLICKS, BOXES, OUTPUT, PAINT, TRACKS = (
    "SAM2 clicks",
    "SAM2 boxes",
    "SAM2 labels",
    "SAM2 paint",
    "SAM2 tracks",
)
PREVIEW, NEW_CELLS = "SAM2 automatic (preview)", "SAM2 new cells"

# key -> (the controller's method, what it does)
SHORTCUTS = {
    "Shift-N": ("add_object", "new object"),
    "Shift-X": ("toggle_negative", "toggle negative clicks"),
    "Shift-F": ("propagate_forward", "propagate forward"),
    "Shift-B": ("propagate_backward", "propagate backward"),
    "Shift-P": ("propagate_both", "propagate both ways"),
    "Shift-C": ("cancel", "cancel the running job"),
    "Shift-D": ("divide_here", "the selected object divides on the current frame"),
    "Shift-S": ("next_suspect", "go to the next suspect object-frame"),
    "Shift-A": ("previous_suspect", "go to the previous suspect object-frame"),
}

# what the widget adds to a setting's help (settings field name -> text)
SETTING_NOTES = {
    "axis": (
        "For (T, Z, Y, X) data the other axis stays at the slider's position when the session "
        "starts."
    ),
    "channel": (
        "napari opens multi-channel data as one layer per channel: pick that layer as the image."
    ),
    "threads": (
        "The one setting that may change while a session is open: it applies from the next job."
    ),
    "image_size": "With a window, the model runs at the window's size instead.",
}

TOOLTIPS = {
    "image": "The image layer to segment: (T, Y, X), (Z, Y, X), RGB stacks, or (T, Z, Y, X).",
    "contrast": (
        "Intensity window mapped to the model's input: 'layer' uses the layer's contrast limits "
        "(one window for all frames), or type 'low, high'."
    ),
    "advanced": (
        "Settings that usually stay as they are: channel, contrast, checkpoint, input size, "
        "device, fast modes, exclusive pixels, window mode and CPU threads. More: "
        f"{DOCS}"
    ),
    "start": (
        "Load the model and create the prompt and output layers. While a session is open this "
        "starts a new one, after asking: the labels, clicks and objects on screen are then "
        "discarded."
    ),
    "close": (
        "End the session (after asking); its layers stay on screen and the settings can be changed."
    ),
    "recreate": "Rebuild the 'SAM2 labels' layer from the session's results after it was deleted.",
    "progress": "Progress of the running tracking job.",
    "objects": (
        "Objects to track. Double-click to rename; the colour is the object's label colour. 'n "
        "lost frames': frames where the object was not found (red on the confidence strip)."
    ),
    "add": "New object (Shift-N). Clicks go to the selected object.",
    "delete": "Delete the selected object, its prompts and its labels.",
    "clear": "Remove all prompts and results of the selected object (it stays in the list).",
    "negative": (
        "Clicks on 'SAM2 clicks' add negative points (Shift-X toggles; right-click always adds a "
        "negative point). Positive points are green, negative red."
    ),
    "candidates": "SAM 2 offers three masks for a single click: pick the one you meant.",
    "paint": "Add a 'SAM2 paint' layer; paint the object with its label, then 'Use painted mask'.",
    "use_paint": "Use the painted masks as prompts on the current frame.",
    "seed_layer": (
        "A labels layer (Cellpose, StarDist, micro-sam, painted, a previous run) whose labels "
        "become objects: (Y, X) for the current frame, or with the image's frame axis. Not 'SAM2 "
        "labels'."
    ),
    "seed_frames": (
        "'current frame': the labels on the frame shown; 'every annotated frame': every frame of "
        "the labels layer that has labels (each label is one object across frames)."
    ),
    "seed": (
        "Each label of the chosen layer becomes an object with that id, its mask the prompt on "
        "that frame; then propagate. Ids already tracked are refused (nothing is added)."
    ),
    "segment_all": (
        "Find every cell on the current frame with SAM 2's automatic mask generator (settings "
        "below) and show them in the 'SAM2 automatic (preview)' layer, not yet as objects. Remove "
        "wrong ones there with napari's tools (fill with label 0, or the eraser), then 'Accept "
        "all' or 'Discard'."
    ),
    "accept_all": (
        "Every label left in the preview becomes a new object (ids after the largest the session "
        "has), prompted by its mask on the preview's frame; the preview layer is removed. Then "
        "propagate."
    ),
    "discard": "Remove the preview layer without adding any object.",
    "auto_settings": (
        "Settings of the automatic mask generator, used by 'Segment all' and 'Find new cells'. "
        "They start at what suits the model, until you change them: 16 points per side, IoU 0.5 "
        "and stability 0.8 for the bundled demo; the official 32, 0.8 and 0.95 for SAM 2 models."
    ),
    "find_new": (
        "Look for cells that no tracked object covers (at most 20 % of their pixels): cells "
        "entering the field or appearing later. They are listed below, outlined in 'SAM2 new "
        "cells' and marked in cyan on the confidence strip. Runs the generator once per frame "
        "searched."
    ),
    "new_on": "Where to look for new cells: the frame shown, or every K-th frame (0, K, 2K, ...).",
    "new_every": "K: look on every K-th frame (with 'every K frames').",
    "new_cells": (
        "Suggested new cells (cyan on the confidence strip): choose one to go to its frame and see "
        "its outline in 'SAM2 new cells'; then 'Accept new cell' or 'Dismiss new cell'."
    ),
    "accept_new": (
        "The chosen suggestion becomes a new object (the next free id), prompted by its mask on "
        "its frame; then propagate to track it."
    ),
    "dismiss_new": (
        "Remove the chosen suggestion from the list and its outline (nothing is tracked)."
    ),
    "divide": (
        "The selected object divides on the current frame (Shift-D): its track ends on the "
        "previous frame and two daughter objects are added; click each daughter on this frame, "
        "then Forward."
    ),
    "suggest": (
        "List frames where an object's mask splits in two, its area halves or its score collapses."
    ),
    "dismiss": "Remove the chosen suggestion from the list (the object's track is not changed).",
    "suggestions": (
        "Suggested divisions (also marked in yellow on the confidence strip): choose one to go "
        "there; confirm with 'Divides here' or 'Dismiss' it."
    ),
    "forward": "Track from the prompted frames towards the end (Shift-F).",
    "backward": "Track from the prompted frames towards the start (Shift-B).",
    "both": "Track both ways, e.g. through a volume from the prompted slice (Shift-P).",
    "cancel": (
        "Stop tracking after the current frame; frames done so far are kept, and clicks you made "
        "meanwhile are still applied (Shift-C)."
    ),
    "overwrite": (
        "Frames you painted on in 'SAM2 labels' are never overwritten; this replaces them with the "
        "tracking result."
    ),
    "next_suspect": (
        "Go to the next suspect object-frame after this frame (magenta on the confidence strip) and "
        "select its object: the model is sure of that mask, but it overlaps another object, jumps in "
        "size or position, falls in confidence, breaks up or grows too large (Shift-S)."
    ),
    "previous_suspect": "Go to the previous suspect object-frame and select its object (Shift-A).",
    "tiff": "Save the 'SAM2 labels' layer (your edits included) as a (T, Y, X) ImageJ TIFF.",
    "zarr": "Save the 'SAM2 labels' layer as a zarr store (one chunk per frame).",
    "table": (
        "One row per object and frame: area, centroid, bounding box, object score, predicted IoU, "
        "lost flag and parent."
    ),
    "ctc": (
        "Cell Tracking Challenge result: a RES folder (masks and res_track.txt with divisions) in "
        "the folder you choose."
    ),
    "geff": (
        "The lineage graph (one node per object and frame, edges over time and divisions) as a "
        "GEFF zarr."
    ),
    "trackmate": (
        "The tracks (one spot per object and frame, links over time and divisions) as a TrackMate "
        "XML file for Fiji, in pixels and frames."
    ),
    "tracks": (
        "A napari Tracks layer from the labels' centroids, coloured like the labels; it follows "
        "later changes."
    ),
    "save_session": (
        "Save the prompts, object names, divisions and settings as a JSON file; 'Load session' on "
        "the same image brings them back."
    ),
    "load_session": (
        "Replace the prompts with those of a saved session file (same image shape) and recompute "
        "the frames they prompt; asks first when the session holds prompts."
    ),
}


FLAG = re.compile(r"(?:CLI )?--([a-z][a-z0-9-]*)( (?!--)[^\s,;)]+)?")


def _labels() -> dict[str, str]:
    """Command-line flag -> widget label, for every Option of every settings type."""
    from ..settings import Settings, options

    found, types = {}, list(Settings.__subclasses__())
    while types:
        kind = types.pop()
        types.extend(kind.__subclasses__())
        found.update({o.flag: o.label for _, o, _ in options(kind)})
    return found


def widget_words(text: str) -> str:
    """``text`` (a setting's help, or a warning written for the command line) in the widget's words:
    each command-line flag becomes the label of its control ("CLI --auto-iou 0.5 --auto-stability
    0.8" becomes "'IoU threshold' 0.5, 'stability threshold' 0.8")."""
    labels = _labels()

    def label(match) -> str:
        flag, value = f"--{match.group(1)}", match.group(2) or ""
        return f"'{labels[flag]}'{value}" if flag in labels else match.group(0)

    text = FLAG.sub(label, text)
    return re.sub(r"('[^']+' [^\s,;)']+) (?=')", r"\1, ", text)  # one flag after another
