"""Where vsvsr and its training package keep what they can rebuild: $XDG_CACHE_HOME/vsvsr
(default ~/.cache/vsvsr). Read from the environment at every call, so a test or a user can
point it elsewhere for one run."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache folder of vsvsr; callers keep their own sub-folder under it."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vsvsr"
