"""PySide6 6.12.0 drops a reference to True on every signal emitted to a Python slot (and miscounts
None and False elsewhere), so a long GUI test run ends in "Fatal Python error: bool_dealloc" or
"none_dealloc", at the latest when the interpreter exits. Measured: 100 emits -> True's refcount
-100 on 6.12.0, 0 on 6.11.2. Pin PySide6 < 6.12; until then the GUI tests give True, False and None
spare references that are never released, so the miscount cannot reach zero."""

from __future__ import annotations

import ctypes

SPARE = 1_000_000
_done = False


def guard() -> None:
    global _done
    try:
        import PySide6
    except ImportError:
        return
    if _done or not PySide6.__version__.startswith("6.12"):
        return
    _done = True
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    for obj in (True, False, None):
        for _ in range(SPARE):
            incref(obj)
