"""Real photos and camera video that ship inside Debian packages: fetched once, by `make data`.

    python -m training.data.debian        # what `make data` runs: fetch every pinned package

Each package is pinned by its version, and each file the project reads by its own sha256
(training.data.sources: a file that differs fails there, loudly). A package is fetched with
`apt-get download` (no install, no dependencies, no root needed once apt's lists exist),
checked, and only the files the sources name are kept, under
``$XDG_DATA_HOME/vsvsr/debian/<package>_<version>/`` (default ``~/.local/share``). A folder
appears there only complete (written beside it, then renamed), so an interrupted fetch
leaves nothing half-done and simply runs again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


class FetchError(RuntimeError):
    """A package that cannot be fetched as pinned; the message says what to do."""


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str  # Debian bookworm's; an epoch ("1:") included

    @property
    def folder(self) -> str:
        return f"{self.name}_{self.version.replace(':', '_')}"  # no colon in a path ffmpeg is given


PACKAGES: dict[str, DebPackage] = {
    p.name: p
    for p in (
        DebPackage("forensics-samples-files", "1.1.4-5"),
        DebPackage("golang-github-gabriel-vasile-mimetype-dev", "1.4.1+dfsg1-2"),
        DebPackage("kphotoalbum", "5.9.1-1"),
        DebPackage("labelme-examples", "5.1.1-1"),
        DebPackage("libdlib19.1", "19.24+dfsg-1"),
        DebPackage("lomiri-wallpapers-16.04", "20.04.0-2"),
        DebPackage("lomiri-wallpapers-20.04", "20.04.0-2"),
        DebPackage("lxqt-themes", "1.2.0-1"),
        DebPackage("mate-backgrounds", "1.26.0-1"),
        DebPackage("palapeli-data", "4:22.12.3-1"),
        DebPackage("pd-extendedview", "0.5~repack-4"),
        DebPackage("psychtoolbox-3-common", "3.0.18.12.dfsg1-1.1"),
        DebPackage("python-kivy-examples", "2.1.0-1"),
        DebPackage("python3-imageio", "2.4.1-5"),
        DebPackage("python3-mecavideo", "8.0~rc5-1"),
        DebPackage("tuxpaint-data", "1:0.9.28-sdl2-1"),
    )
}  # fmt: skip


def data_root() -> Path:
    """$XDG_DATA_HOME/vsvsr/debian (default ~/.local/share/vsvsr/debian)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vsvsr" / "debian"


def package_dir(name: str) -> Path:
    """Where the kept files of pinned package `name` live (whether or not fetched yet)."""
    return data_root() / PACKAGES[name].folder


def fetch(package: DebPackage, paths: list[str], root: Path | None = None) -> Path:
    """Download `package` and keep `paths` (relative to the package's file system root) under
    root/<package>_<version>/. Does nothing when that folder exists."""
    target = (root or data_root()) / package.folder
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{package.folder}.", dir=target.parent) as tmp:
        work = Path(tmp)
        deb = _download(package, work)
        unpacked = work / "unpacked"
        _run(["dpkg-deb", "-x", str(deb), str(unpacked)], f"unpacking {deb.name}")
        kept = work / "kept"
        for path in paths:
            source = unpacked / path
            if not source.is_file():
                raise FetchError(f"{package.name} {package.version} has no file {path}; the pin lists a file it lacks")
            (kept / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, kept / path)
        os.replace(kept, target)  # the folder appears complete, or not at all
    return target


def _download(package: DebPackage, folder: Path) -> Path:
    if shutil.which("apt-get") is None:
        raise FetchError(
            f"fetching {package.name} needs apt-get (a Debian or Ubuntu machine); elsewhere, copy "
            f"{package.name}_{package.version}'s files into {data_root() / package.folder}"
        )
    spec = f"{package.name}={package.version}"
    result = subprocess.run(["apt-get", "download", "-q", spec], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0 and os.geteuid() == 0:  # lists missing or stale: refresh them once
        _run(["apt-get", "update", "-qq"], "updating apt's package lists")
        result = subprocess.run(["apt-get", "download", "-q", spec], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(
            f"apt-get download {spec} failed: {(result.stderr or result.stdout).strip()}; run 'apt-get update' "
            f"as root, and check that Debian bookworm still carries {spec}"
        )
    debs = list(folder.glob("*.deb"))
    if len(debs) != 1:
        raise FetchError(f"apt-get download {spec} left {len(debs)} .deb files, expected one")
    return debs[0]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"{what} failed: {(result.stderr or result.stdout).strip()}")


def main() -> int:
    from .sources import SOURCES  # the sources name the files to keep; they import this module

    wanted: dict[str, list[str]] = {}
    for source in SOURCES.values():
        if source.package.startswith("debian:"):
            wanted.setdefault(source.package.removeprefix("debian:"), []).append(source.path)
    try:
        for name, paths in wanted.items():
            folder = fetch(PACKAGES[name], paths)
            print(f"{name} {PACKAGES[name].version}: {len(paths)} files in {folder}", file=sys.stderr)
    except FetchError as err:
        print(f"make data: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
