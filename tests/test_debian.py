"""`make data`'s fetch (training.data.debian) against a fake apt-get that serves a .deb built
here: only the listed files are kept, the folder appears complete or not at all, and a second
fetch downloads nothing."""

import os
import stat
import subprocess

import pytest

from training.data import debian

PACKAGE = debian.DebPackage("vsvsr-fake-photos", "1:1.0-1")


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """A fake apt-get on PATH whose `download NAME=VERSION` copies a real .deb (built with
    dpkg-deb) into the working folder, counting its calls."""
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE.name}\nVersion: {PACKAGE.version}\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    for path, data in (("usr/share/photos/a.jpg", b"photo a"), ("usr/share/photos/b.png", b"photo b"),
                       ("usr/share/doc/readme", b"not wanted")):  # fmt: skip
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    deb = tmp_path / "fake.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True, capture_output=True)
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1" = download ] && cp {deb} "./{PACKAGE.name}.deb"\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_fetch_keeps_only_the_listed_files_and_runs_once(apt, tmp_path):
    root = tmp_path / "data"
    folder = debian.fetch(PACKAGE, ["usr/share/photos/a.jpg", "usr/share/photos/b.png"], root)
    assert folder == root / "vsvsr-fake-photos_1_1.0-1"  # no colon in the path
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "usr/share/photos/a.jpg", "usr/share/photos/b.png"]  # fmt: skip
    assert (folder / "usr/share/photos/a.jpg").read_bytes() == b"photo a"
    assert apt.read_text().split() == ["download", "-q", "vsvsr-fake-photos=1:1.0-1"]
    debian.fetch(PACKAGE, ["usr/share/photos/a.jpg"], root)
    assert len(apt.read_text().splitlines()) == 1  # fetched already: nothing downloaded
    assert sorted(p.name for p in root.iterdir()) == [folder.name]  # no temporary folders left


def test_a_file_the_package_lacks_leaves_nothing_behind(apt, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(debian.FetchError, match="has no file usr/share/photos/c.jpg"):
        debian.fetch(PACKAGE, ["usr/share/photos/a.jpg", "usr/share/photos/c.jpg"], root)
    assert list(root.iterdir()) == []


def test_every_debian_source_names_a_pinned_package():
    from training.data import sources

    named = {s.package.removeprefix(sources.DEBIAN) for s in sources.SOURCES.values() if s.package.startswith(sources.DEBIAN)}
    assert named == set(debian.PACKAGES)
