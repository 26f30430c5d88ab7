"""Every error ifpp-econ raises on purpose, in one place, and what the command line does with them.

``IfppError`` is the base of every deliberate error:

- ``InputError``: a problem the user can fix in the inputs; the command line prints the message and exits
  with code 2. Its kinds: ``WorkbookError`` (every problem found in a workbook, ``problems``: one message
  each, with file, sheet and cell), ``OptionError`` (a command-line option), ``SamplingError`` (a
  distribution, Dirichlet group or correlation that cannot be sampled), ``UnitsError`` (a unit or price year
  that cannot be converted), ``ModelError`` (parameter values the model cannot use; ``TransitionError`` when
  a transition row is not a probability distribution) and ``LocalDataError`` (SSDA903 or CIN census files
  that cannot be used, ``problems`` naming file, row and column).
- ``OutputError``: the output location cannot be used (read-only, full, not a folder, holds other files);
  exit code 2.

Any other exception is a bug: exit code 1 with the traceback saved to a file. This module imports nothing
from the package, so every module can use it.
"""
from __future__ import annotations


class IfppError(Exception):
    """Base of every error ifpp-econ raises on purpose (the message says what and where)."""


class InputError(IfppError):
    """Bad input the user can fix (workbook, files, option or value): exit 2."""


class ProblemsError(InputError):
    """Several problems found in one pass (``problems``: one message each, printed one per line)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class WorkbookError(ProblemsError):
    """Every problem found in a workbook (each names the file, sheet and cell)."""


class LocalDataError(ProblemsError, ValueError):
    """Local data files (SSDA903, CIN census, family or cohort lists) that cannot be used; each problem names the
    file, row and column."""


class OptionError(InputError):
    """A command-line option the user can fix."""


class SamplingError(InputError, ValueError):
    """A distribution, Dirichlet group or correlation that cannot be sampled (the message names it)."""


class UnitsError(InputError, ValueError):
    """A unit or price year that cannot be converted."""


class ModelError(InputError, ValueError):
    """Parameter values the model cannot use (the message says which and why)."""


class TransitionError(ModelError):
    """A transition row is not a probability distribution."""


class OutputError(IfppError):
    """The output location cannot be used (read-only, full, not a folder, holds other files): exit 2."""
