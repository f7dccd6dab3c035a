"""Running ffmpeg and ffprobe: finding them, their errors as one line, commands built with
ffmpeg-python, and users' filter chains parsed into its filters.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ..errors import UserError


class PipelineError(UserError, RuntimeError):
    """A failure of the ffmpeg pipeline, said in one line that names the fix."""


class Interrupted(PipelineError):
    """The user stopped the job (Ctrl-C); the message says what was kept."""


# -nostdin: ffmpeg otherwise reads the terminal for interactive keys ('q', '?'), which steals the
# user's keystrokes and stops it when run in the background.
FFMPEG_QUIET = ["-hide_banner", "-nostdin", "-v", "error"]
# ffmpeg 5.1's zscale converts frames in slices on several threads, and the slices disagree with
# whole-frame zimg (up to 73 of 1023 levels at slice edges in 4:2:0 chroma): one filter thread
# keeps the conversions identical to VapourSynth's.
WHOLE_FRAME_ZIMG = ["-filter_complex_threads", "1"]


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
    raises PipelineError: "<what> failed: <ffmpeg's first line>"."""
    return run_with_errors(args, what)[0]


def run_with_errors(args: list[str], what: str) -> tuple[str, str]:
    """`run`, also returning stderr: errors ffmpeg met but went on past (a truncated file's
    "File ended prematurely"), since at `-v error` it prints nothing else there."""
    done = subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise PipelineError(f"{what} failed: {first_error(done.stderr)}")
    return done.stdout, done.stderr


def ffprobe_json(args: list[str], what: str) -> dict[str, Any]:
    return json.loads(run(["ffprobe", "-v", "error", "-of", "json", *args], what))


def span(start: str | None = None, end: str | None = None) -> dict[str, str]:
    """ffmpeg's input options that read from `start` to `end` (positions as ffmpeg takes them:
    seconds or [HH:]MM:SS[.ms]). Seeking as an input option is frame-accurate when decoding."""
    return {key: value for key, value in (("ss", start), ("to", end)) if value}


def input_args(path: Path, start: str | None = None, end: str | None = None) -> list[str]:
    """`span`'s options for `path`, and the path, as ffmpeg arguments."""
    return [*option_args(span(start, end)), "-i", str(path)]


def option_args(options: dict[str, str]) -> list[str]:
    """{"color_range": "tv"} -> ["-color_range", "tv"]."""
    return [arg for key, value in options.items() for arg in (f"-{key}", value)]


# ---- commands and filter graphs -----------------------------------------------------------------
# ffmpeg-python builds every command that has a filter graph: it names the streams, escapes each
# filter's options for ffmpeg's two parsers (the graph's, then the filter's) and writes the
# -filter_complex. A user's --vf-pre/--vf-post text is parsed into filters here (as ffmpeg's
# own graph parser reads it) so that it joins the same graph as our filters.

_WHITESPACE = " \n\t\r"
_KEY = re.compile(r"\s*([0-9A-Za-z_./-]+)\s*=")  # ffmpeg's option-name characters, then "="


def command(spec: Any) -> list[str]:
    """The ffmpeg command line for an ffmpeg-python output `spec`, quiet and with zimg
    converting whole frames (see WHOLE_FRAME_ZIMG)."""
    return spec.global_args(*FFMPEG_QUIET, *WHOLE_FRAME_ZIMG).compile(cmd="ffmpeg")


def _token(text: str, pos: int, terms: str) -> tuple[str, int]:
    """ffmpeg's av_get_token: the text from `pos` up to a character of `terms` that is neither
    backslash-escaped nor 'quoted', with one level of escapes and quotes removed and unprotected
    outer whitespace stripped; and the position where it stopped."""
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    out: list[str] = []
    keep = 0  # length of `out` that trailing-whitespace stripping must keep
    while pos < len(text) and text[pos] not in terms:
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            keep = len(out)
        elif char == "'":
            close = text.find("'", pos + 1)
            close = len(text) if close < 0 else close
            out.extend(text[pos + 1 : close])
            pos = close + 1
            keep = len(out)
        else:
            out.append(char)
            pos += 1
            keep = len(out) if char not in _WHITESPACE else keep
    return "".join(out[:keep]), pos


@dataclass(frozen=True)
class Filter:
    """One filter of a user's chain, its options unescaped: `positional` values in order, then
    `named` ones."""

    name: str
    positional: tuple[str, ...] = ()
    named: dict[str, str] = field(default_factory=dict)


def parse_chain(graph: str, flag: str) -> list[Filter]:
    """The filters of a linear ffmpeg filter graph such as "bwdif=mode=1,crop=1920:800"; a
    PipelineError naming `flag` (the option it came from) for anything else."""
    filters, pos = [], 0
    while True:
        name, pos = _token(graph, pos, "=,;[]")
        if name and pos < len(graph) and graph[pos] == "=":
            options, pos = _token(graph, pos + 1, "[],;")
            filters.append(_filter(name, options, flag))
        elif name:
            filters.append(Filter(name))
        while pos < len(graph) and graph[pos] in _WHITESPACE:
            pos += 1
        if pos < len(graph) and graph[pos] in "[];":
            raise PipelineError(f"{flag} takes a chain of filters joined by commas, without [labels] or ';' "
                                f"(found {graph[pos]!r}); for a whole graph pipe vspipe into ffmpeg "
                                "(filter_scripts/vspipe_to_ffmpeg.sh)")  # fmt: skip
        if not name:
            raise PipelineError(f"{flag} {graph!r}: a filter name is missing at character {pos + 1}")
        if pos == len(graph):
            return filters
        pos += 1  # the ','


def _filter(name: str, options: str, flag: str) -> Filter:
    """A filter from its option text (one level unescaped), split as ffmpeg splits it: on ':',
    each part "name=value" or a value for the next option in the filter's order."""
    positional: list[str] = []
    named: dict[str, str] = {}
    pos = 0
    while pos < len(options):
        key = _KEY.match(options, pos)
        value, pos = _token(options, key.end() if key else pos, ":")
        if key:
            named[key.group(1)] = value
        elif named:
            raise PipelineError(f"{flag}: {name}'s value {value!r} follows named options; name it (option=value)")
        elif any(c in value for c in "\\':="):
            # (ffmpeg-python escapes positional values twice; named values come out right.)
            raise PipelineError(f"{flag}: write {name}'s value {value!r} as a named option (option=value)")
        else:
            positional.append(value)
        pos += 1  # the ':'
    return Filter(name, tuple(positional), named)


def with_filters(stream: Any, graph: str | None, flag: str) -> Any:
    """`stream` (ffmpeg-python) through the user's filter chain `graph` from option `flag`."""
    for f in parse_chain(graph, flag) if graph else []:
        stream = stream.filter(f.name, *f.positional, **f.named)
    return stream


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

    def bytes_read(self) -> int | None:
        """What it has read so far (Linux's rchar, before it is reaped: its input, and some 0.2 MB
        of libraries as it started); None where /proc does not say."""
        if self.process.returncode is not None:  # reaped: its pid may be another process's now
            return None
        try:
            return int(re.search(r"^rchar: (\d+)", Path(f"/proc/{self.process.pid}/io").read_text(), re.M).group(1))
        except (OSError, AttributeError):
            return None

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
