"""The errors ifpp-econ raises on purpose, and what the command line does with them.

``IfppError`` is the base of every deliberate error. ``InputError``: a problem the user
can fix in the workbook or the options (a workbook value, a distribution, a correlation, a
unit or price year, a model setting); ``OutputError``: the output location cannot be used.
Both make the command line print the message and exit with code 2. Any other exception is
a bug: exit code 1 with the traceback saved to a file.

The specific errors keep their homes (``workbook.WorkbookError``, ``sampling.SamplingError``,
``model.ModelError``, ``units.UnitsError``, ``runs.OutputError``) and subclass these.
This module imports nothing from the package, so every module can use it.
"""
from __future__ import annotations


class IfppError(Exception):
    """Base of every error ifpp-econ raises on purpose (the message says what and where)."""


class InputError(IfppError):
    """Bad input the user can fix (workbook, sampling, model or units problem, or a command option): exit 2."""


class OutputError(IfppError):
    """The output location cannot be used (read-only, full, not a folder, holds other files): exit 2."""
