"""Running ffmpeg and ffprobe: finding them, their errors as one line, filter-graph text.

Every failure a user can cause or meet (a missing tool, an unreadable file, a bad filter graph)
becomes a `PipelineError` whose message is one line naming the fix; the CLI prints it as is.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Self


class PipelineError(RuntimeError):
    """A failure of the ffmpeg pipeline, said in one line that names the fix."""


class Interrupted(PipelineError):
    """The user stopped the job (Ctrl-C); the message says what was kept."""


# -nostdin: ffmpeg otherwise reads the terminal for interactive keys ('q', '?'), which steals the
# user's keystrokes and stops it when run in the background.
FFMPEG_QUIET = ["-hide_banner", "-nostdin", "-v", "error"]
# ffmpeg 5.1's zscale converts frames in slices on several threads, and the slices disagree with
# whole-frame zimg (up to 73 of 1023 levels at slice edges in 4:2:0 chroma): one filter thread
# keeps the conversions identical to VapourSynth's.
WHOLE_FRAME_ZIMG = ["-filter_threads", "1"]


@functools.cache
def tool(name: str) -> str:
    """The path of `name` ("ffmpeg" or "ffprobe") on PATH."""
    path = shutil.which(name)
    if path is None:
        raise PipelineError(f"{name} not found on PATH; install ffmpeg (e.g. apt-get install ffmpeg)")
    return path


def first_error(text: str) -> str:
    """The first line of a tool's stderr, where ffmpeg names the cause (the lines after it say
    what failed in consequence), without its "[component @ 0x...] " prefix."""
    lines = [re.sub(r"^\[[^]]* @ 0x[0-9a-f]+\] ", "", line.strip()) for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def run(args: list[str], what: str) -> str:
    """Run ffmpeg/ffprobe (`args[0]` names which) to completion; stdout as text. A failure
    raises PipelineError: "<what> failed: <ffmpeg's last line>"."""
    done = subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise PipelineError(f"{what} failed: {first_error(done.stderr)}")
    return done.stdout


def ffprobe_json(args: list[str], what: str) -> dict[str, Any]:
    return json.loads(run(["ffprobe", "-v", "error", "-of", "json", *args], what))


def input_args(path: Path, start: str | None = None, end: str | None = None) -> list[str]:
    """ffmpeg's input options for `path` from `start` to `end` (positions as ffmpeg takes them:
    seconds or [HH:]MM:SS[.ms]). Seeking as an input option is frame-accurate when decoding."""
    span = (["-ss", start] if start else []) + (["-to", end] if end else [])
    return [*span, "-i", str(path)]


# ---- filter-graph text --------------------------------------------------------------------------
# A filter's argument passes two parsers: the graph parser (which splits filters on , ; [ ]) and
# the filter's option parser (which splits options on : and =). Each strips one level of
# backslash escapes, so a value is escaped for the option parser, then the whole argument string
# for the graph parser.


_OPTION_SPECIAL = "\\':="  # what the option parser splits on or unescapes
_GRAPH_SPECIAL = "\\'[],;"  # what the graph parser splits on or unescapes


def _escape(text: str, special: str) -> str:
    return "".join("\\" + c if c in special else c for c in text)


def filter_spec(name: str, **options: object) -> str:
    """One filter, e.g. filter_spec("scale", w=-2, h="min(ih,180)") -> "scale=w=-2:h=min(ih\\,180)".
    None-valued options are left out."""
    args = ":".join(f"{k}={_escape(str(v), _OPTION_SPECIAL)}" for k, v in options.items() if v is not None)
    return f"{name}={_escape(args, _GRAPH_SPECIAL)}" if args else name


def chain(*filters: str | None) -> str:
    """A linear filter graph: the filters (or user graphs, spliced verbatim) joined by commas;
    empty and None parts are skipped."""
    return ",".join(f for f in filters if f)


class Child:
    """A running ffmpeg, stderr kept for its error message. In its own session, so Ctrl-C
    reaches only us and we decide when it stops: `close` kills it if it still runs."""

    def __init__(self, args: list[str], what: str, stdin: int | None = None, stdout: int | None = None) -> None:
        self.what = what
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed by close())
        self.process = subprocess.Popen([tool(args[0]), *args[1:]], stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                        stdout=stdout, stderr=self._log, start_new_session=True)  # fmt: skip

    def error(self) -> PipelineError:
        self._log.seek(0)
        return PipelineError(f"{self.what} failed: {first_error(self._log.read().decode(errors='replace'))}")

    def wait(self) -> None:
        """Wait for a clean exit; PipelineError with ffmpeg's message otherwise."""
        if self.process.wait() != 0:
            raise self.error()

    def stop(self) -> None:
        """Kill it if it still runs; its message stays readable through `error`."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:  # unflushed input to a process that is gone
                    pass

    def close(self) -> None:
        self.stop()
        self._log.close()


class DeferredInterrupt:
    """Ctrl-C while frames flow between ffmpeg processes and threads: remembered, and raised as
    KeyboardInterrupt at the next `check` (a frame boundary, where every child process sits in a
    `with` that stops it and removes its unfinished file). A second Ctrl-C stops at once.
    Only the main thread receives signals; elsewhere this does nothing."""

    def __enter__(self) -> Self:
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt
