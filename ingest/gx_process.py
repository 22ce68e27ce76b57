"""great-expectations in a process of its own, so its seconds of loading use the other core.

Importing GX and building its data context is seconds of pure Python work; in the process that
also imports Dagster and dbt it would wait its turn for the one interpreter lock. So the gate's GX
lives in a child process (``python -m ingest.gx_process``), started as early as a run knows it
will load files, and asked over a pipe: a frame and the expectations to check it against go in,
the failed expectations come back as plain data (type, arguments, what GX found). Nothing of GX is
imported by the asking process.

The child ends when its pipe closes (this process exiting, or :func:`stop`); a child that died is
started again by the next request.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import pickle
import re
import struct
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_ROOT = Path(__file__).resolve().parent.parent
# Which parts of a GX result the gate reports (how many rows, some values and, when the frame
# names its rows, which rows; other details).
RESULT_PARTS = (
    "unexpected_count",
    "partial_unexpected_list",
    "partial_unexpected_index_list",
    "details",
)


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite, as plain data: a GX expectation class name and its arguments
    (e.g. ``Expectation("ExpectColumnValuesToNotBeNull", {"column": "model"})``)."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def type(self) -> str:
        """The expectation type as GX names it in results (``expect_column_values_to_...``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()


@dataclass(frozen=True)
class Failed:
    """An expectation GX found failing on a frame: its type (``expect_...``), its arguments as GX
    echoes them and the parts of its result named in ``RESULT_PARTS``."""

    type: str
    kwargs: dict[str, Any]
    result: dict[str, Any]

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


class GxProcessError(RuntimeError):
    """The GX process could not answer (it failed to load GX, or raised on this frame)."""


# --- the wire: length-prefixed pickles ---------------------------------------------------------


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any | None:
    """The next message, or None when the other side closed the pipe."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    size = struct.unpack("<Q", head)[0]
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


# --- the asking side ---------------------------------------------------------------------------


class GxProcess:
    """A running GX child process and the pipe to it (one request at a time)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        env.setdefault("GX_ANALYTICS_ENABLED", "false")
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ingest.gx_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_ROOT,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None and self.owner == os.getpid()

    def check(
        self,
        frame: Any,
        expectations: list[Expectation],
        suite: str,
        row_id_column: str | None = None,
    ) -> list[Failed]:
        """The expectations that fail on ``frame``, in suite order. ``frame`` is a pandas DataFrame,
        or a dict of column name to values, made into one by the child (so that a process asking
        about a few values need not load pandas). With ``row_id_column`` (a column of ``frame``
        naming its rows), each result's ``partial_unexpected_index_list`` says which rows failed."""
        with self._lock:
            try:
                _send(self._proc.stdin, (suite, list(expectations), frame, row_id_column))
                reply = _receive(self._proc.stdout)
            except (BrokenPipeError, OSError):
                reply = None
        if reply is None:
            code = self._proc.wait()
            raise GxProcessError(f"the great-expectations process ended (exit code {code})")
        if "error" in reply:
            raise GxProcessError(reply["error"])
        return [Failed(**one) for one in reply["failed"]]

    def stop(self) -> None:
        """End the child now (it holds nothing but GX; it may still be loading it)."""
        if self._proc.poll() is not None or self.owner != os.getpid():
            return
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_SHARED: GxProcess | None = None
_SHARED_LOCK = threading.Lock()


def start() -> GxProcess:
    """This process's GX child, started now unless one is already running."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or not _SHARED.alive():
            _SHARED = GxProcess()
        return _SHARED


def check(
    frame: Any,
    expectations: list[Expectation],
    suite: str,
    row_id_column: str | None = None,
) -> list[Failed]:
    """Ask this process's GX child which of ``expectations`` fail on ``frame`` (see
    :meth:`GxProcess.check`)."""
    return start().check(frame, expectations, suite, row_id_column)


@atexit.register
def stop() -> None:
    """Stop this process's GX child, if it started one."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None:
            _SHARED.stop()
            _SHARED = None


# --- the child ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` with every GX or numpy object turned into plain Python (so unpickling it needs
    neither library)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


# Packages GX imports when it loads, for features the gate never asks for: altair draws charts for
# Data Docs, scipy backs distributional expectations (KL divergence, KS tests). Their modules are
# loaded on first use instead: a second of CPU less in every run's busiest seconds, when Dagster,
# dbt and the scan of dropped files share the machine's cores with this process.
LOADED_ON_FIRST_USE = ("altair", "scipy")


class _OnFirstUse(importlib.abc.MetaPathFinder):
    """Finds the Python modules of ``LOADED_ON_FIRST_USE`` as usual and hands them to
    :class:`importlib.util.LazyLoader`, which runs a module the first time one of its attributes is
    read. Compiled extension modules load as usual when a module that needs them runs."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.partition(".")[0] not in LOADED_ON_FIRST_USE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _load() -> tuple[Any, Any]:
    """GX and a batch definition that takes a whole pandas frame as its batch."""
    import logging
    import warnings

    if not any(isinstance(finder, _OnFirstUse) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OnFirstUse())

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Progress bars on stderr would drown the CLI's own one-line-per-file output.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("meterr_pending")
    asset = source.add_dataframe_asset("pending_rows")
    return gx, asset.add_batch_definition_whole_dataframe("whole_chunk")


def _failed(
    gx: Any,
    definition: Any,
    suite: str,
    expectations: list,
    frame: Any,
    row_id_column: str | None = None,
) -> list[dict]:
    if isinstance(frame, dict):
        import pandas as pd

        frame = pd.DataFrame(frame)
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    built = [getattr(gx.expectations, e.kind)(**e.kwargs) for e in expectations]
    result_format: Any = "SUMMARY"
    if row_id_column:
        result_format = {
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [row_id_column],
        }
    suite_run = gx.ExpectationSuite(name=suite, expectations=built)
    results = batch.validate(suite_run, result_format=result_format).results
    return [
        {
            "type": one.expectation_config.type,
            "kwargs": _plain(dict(one.expectation_config.kwargs)),
            "result": _plain({k: (one.result or {}).get(k) for k in RESULT_PARTS}),
        }
        for one in results
        if not one.success
    ]


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer requests until the pipe closes. A failure to load GX is every request's answer."""
    try:
        gx, definition = _load()
        broken = None
    except Exception:
        gx = definition = None
        broken = "great-expectations failed to load:\n" + traceback.format_exc()
    while (request := _receive(requests)) is not None:
        if broken:
            _send(replies, {"error": broken})
            continue
        try:
            _send(replies, {"failed": _failed(gx, definition, *request)})
        except Exception:
            _send(replies, {"error": traceback.format_exc()})


def main() -> None:
    # The pipe is this process's own copy of stdout; anything GX prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
