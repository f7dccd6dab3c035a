"""The files vsvsr ships beside its code: weights with their cards, and the filter scripts.

They are package data (setup.py maps the repository's top-level `weights/` and `filter_scripts/`
folders to the sub-packages below), found with importlib.resources, so a wheel installed
anywhere works as well as an editable install in a clone. Both come back as real folders:
vspipe and bash run the scripts by path, and safetensors opens weights by path.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

WEIGHTS_PACKAGE = "vsvsr.shipped_weights"
FILTER_SCRIPTS_PACKAGE = "vsvsr.filter_scripts"


def folder(package: str) -> Path:
    """The folder holding `package`'s data files."""
    found = files(package)
    if not isinstance(found, Path):  # a zip import: nothing vspipe could run or mmap
        raise RuntimeError(f"{package} must be installed as files, not imported from a zip; reinstall vsvsr with pip")
    return found


def weights_folder() -> Path:
    """Where the shipped *.safetensors and their cards (*.md, *.png) are."""
    return folder(WEIGHTS_PACKAGE)


def filter_scripts_folder() -> Path:
    """Where the ready-made .vpy and shell scripts are."""
    return folder(FILTER_SCRIPTS_PACKAGE)
