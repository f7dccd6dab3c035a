"""The one line a user sees: errors the user can fix, apart from bugs.

`vsvsr`, `python -m training`, `vsvsr serve`'s jobs and `core.vsr.SRGAN` print a `UserError`'s
message alone, as one line that names the fix. Any other exception is a bug in vsvsr and keeps
its traceback (or, inside VapourSynth, its type), so it can be found and reported.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: an argument, an input file, a weights file, a missing extra."""


class UsageError(UserError, ValueError):
    """An argument value that cannot work (a scale, a tile size, a device); still a ValueError,
    as these always were, for callers that catch that."""
