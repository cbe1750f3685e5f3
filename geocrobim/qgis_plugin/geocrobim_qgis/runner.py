"""Run ``geocrobim segment --json`` in a child process: find it, follow its progress, cancel it.

No QGIS import here (and no geocrobim import: the plugin runs inside QGIS's Python, geocrobim
in the user's own environment), so this module is tested in the project's test suite too.
The choices it offers (vector formats, devices) come from geocrobim's ``choices.py``, which
imports nothing and is loaded by path: the copy ``geocrobim qgis-plugin`` puts beside this
file, else (running from the package) the package's own.
The child gets a clean environment without QGIS's PYTHONPATH/PYTHONHOME, which would
otherwise make the other Python load QGIS's libraries.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

#: Environment variable naming the geocrobim executable.
ENV_VAR = "GEOCROBIM_EXE"
#: File written next to this module by ``geocrobim qgis-plugin --install``: the executable
#: of the environment that installed the plugin.
HINT_FILE = Path(__file__).with_name("geocrobim_exe.txt")


def _load_choices():
    """geocrobim's ``choices`` module, loaded from its file (no geocrobim import)."""
    here = Path(__file__).resolve()
    for path in (here.with_name("choices.py"), here.parents[2] / "choices.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("geocrobim_qgis_choices", str(path))
            if spec is None or spec.loader is None:
                break
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError("geocrobim's choices.py is missing from the plugin; reinstall it with: geocrobim qgis-plugin --install")


_CHOICES = _load_choices()
#: Vector formats and devices offered by the algorithm (the CLI's choices).
FORMATS = _CHOICES.VECTOR_FORMATS
DEVICES = _CHOICES.DEVICES

# tqdm draws "desc:  45%|####      | 9/20 [00:01<00:02, ...]"; take done/total.
_PROGRESS = re.compile(r"\|\s*(\d+)/(\d+)\s*\[")
_POLL_S = 0.1
_KILL_AFTER_S = 5.0


class RunError(Exception):
    """geocrobim could not be found or failed; the message is for the user."""


class Canceled(Exception):  # noqa: N818 - a cancel is not an error; the name is the plugin's API
    """The user canceled; the child process was stopped."""


def find_executable(explicit=None, configured=None):
    """The geocrobim executable to run.

    Order: the algorithm's parameter, the ``GEOCROBIM_EXE`` environment variable, the QGIS
    setting, the hint left by ``geocrobim qgis-plugin --install``, ``geocrobim`` on PATH.

    Raises:
        RunError: none of them names an existing executable; the message says how to set one.
    """
    hint = HINT_FILE.read_text(encoding="utf-8").strip() if HINT_FILE.exists() else ""
    for candidate in (explicit, os.environ.get(ENV_VAR), configured, hint):
        if candidate:
            path = Path(candidate).expanduser()
            if path.is_file() and os.access(str(path), os.X_OK):
                return str(path)
            raise RunError(
                f"geocrobim executable {path} does not exist or is not executable; set the parameter "
                f"'geocrobim executable' or {ENV_VAR} to the geocrobim command of your environment"
            )
    found = shutil.which("geocrobim")
    if found:
        return found
    raise RunError(
        "geocrobim was not found: install it (pip install geocrobim) and set the parameter "
        f"'geocrobim executable' or the {ENV_VAR} environment variable to its path"
    )


def build_command(executable, raster, expressions, output_dir, checkpoint="default", device="auto", vector_format="gpkg"):
    """The ``geocrobim segment`` command line (a list, no shell)."""
    expressions = [e.strip() for e in expressions if e and e.strip()]
    if not expressions:
        raise RunError("give at least one expression, e.g. 'the large building north of the river'")
    if vector_format not in FORMATS:
        raise RunError("vector format {!r} is not one of {}".format(vector_format, ", ".join(FORMATS)))
    return [
        executable, "segment", str(raster), *expressions,
        "-o", str(output_dir), "--checkpoint", checkpoint or "default", "--device", device or "auto",
        "--format", vector_format, "--overwrite", "--json",
    ]


def clean_environment(environ=None):
    """``environ`` without the variables that would make another Python load QGIS's modules."""
    env = dict(os.environ if environ is None else environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__"):
        env.pop(name, None)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class ProgressParser:
    """Turns the child's stderr (tqdm bars and log lines) into percentages and messages."""

    def __init__(self):
        self._pending = ""

    def feed(self, text):
        """Consume a chunk; returns (list of percentages 0-100, list of complete message lines)."""
        self._pending += text
        *parts, self._pending = re.split(r"[\r\n]", self._pending)
        percents, messages = [], []
        for part in parts:
            match = _PROGRESS.search(part)
            if match:
                done, total = int(match.group(1)), int(match.group(2))
                if total > 0:
                    percents.append(100.0 * min(done, total) / total)
            elif part.strip():
                messages.append(part.strip())
        return percents, messages


def run(command, on_progress=None, on_message=None, is_canceled=None):
    """Run ``command`` (``geocrobim segment ... --json``) and return its JSON summary.

    Args:
        command: the argument list.
        on_progress: called with a percentage 0-100 as the child reports progress.
        on_message: called with each log or error line of the child.
        is_canceled: polled every 0.1 s; when it returns True the child is terminated
            (killed after 5 s) and :class:`Canceled` is raised.

    Raises:
        RunError: the child failed; the message is its "Error: ..." line.
        Canceled: canceled by the user.
    """
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows only: no console window
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=clean_environment(), creationflags=flags,
        )
    except OSError as exc:
        raise RunError(f"cannot start {command[0]}: {exc}") from exc
    out, err = proc.stdout, proc.stderr
    if out is None or err is None:  # never with PIPE; says so to the type checker
        raise RunError(f"cannot read the output of {command[0]}")
    stdout, messages = [], []
    parser = ProgressParser()

    def read_stdout():
        stdout.append(out.read())

    def read_stderr():
        # read1: whatever has arrived, up to 4 KiB
        for chunk in iter(lambda: err.read1(4096), b""):  # type: ignore[attr-defined]  # a pipe is a BufferedReader
            percents, lines = parser.feed(chunk.decode("utf-8", "replace"))
            if percents and on_progress:
                on_progress(percents[-1])
            for line in lines:
                messages.append(line)
                if on_message:
                    on_message(line)

    readers = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=read_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    try:
        while proc.poll() is None:
            if is_canceled and is_canceled():
                _stop(proc)
                raise Canceled("geocrobim was canceled")
            time.sleep(_POLL_S)
    finally:
        for reader in readers:
            reader.join(timeout=5)
        out.close()
        err.close()
    if proc.returncode != 0:
        errors = [m for m in messages if m.startswith("Error")] or messages[-1:] or [f"exit code {proc.returncode}"]
        raise RunError(f"geocrobim failed: {errors[-1]}")
    try:
        return json.loads(b"".join(stdout).decode("utf-8"))
    except ValueError as exc:
        raise RunError(f"geocrobim printed no JSON summary; is {command[0]} a geocrobim executable?") from exc


def outputs_of(summary):
    """Per expression: (expression, mask path, vector path or None, probabilities path or None)."""
    results = []
    for item in summary.get("expressions", []):
        outputs = item.get("outputs", {})
        results.append((item.get("expression", ""), outputs.get("mask"), outputs.get("vector"), outputs.get("probabilities")))
    return results


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=_KILL_AFTER_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
