"""dbt started ahead: a dbt process that has done its seconds of imports before the build asks.

dagster-dbt runs every dbt command as a new process, which first spends seconds importing dbt and
its adapter. A run knows from its start that it will build, so the dbt resource starts a *warm*
dbt process then (``python -m dagster_project.dbt_warm``), which imports dbt while the run loads
files on the other core and then waits on a Unix socket in a private temporary folder (bound
before it starts, so a command may arrive at any time and waits in the queue).

The executable dagster-dbt launches is ``dbt_warm_client.sh``: :func:`client`, this module run as
a script by Python without site-packages (milliseconds). It hands its standard input, output and
error (the pipe dagster-dbt reads), its arguments, working directory and environment to the warm
process, which runs dbt's own command line with them and sends back the exit code. So dbt's
output, artifacts and exit status are exactly those of ``dbt`` itself. A warm process serves one
command and ends. When there is none (no socket in the environment, or its process is gone before
running anything) the client becomes the real ``dbt``, so the same command works either way.

Only the standard library is imported at module level: the client runs without site-packages.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

# What the client reads from its environment: the warm process's socket, and the dbt to run
# when there is no warm process.
SOCKET_ENV = "METERR_DBT_WARM_SOCKET"
REAL_DBT_ENV = "METERR_DBT_EXECUTABLE"
PYTHON_ENV = "METERR_DBT_PYTHON"
CLIENT = Path(__file__).resolve().with_name("dbt_warm_client.sh")
_ROOT = Path(__file__).resolve().parent.parent
ACCEPT_POLL_SECONDS = 2.0


class WarmDbt:
    """A started warm dbt process; :meth:`env` is what a dbt command needs to use it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="meterr-dbt-"))
        self.socket = self.folder / "dbt.sock"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        # Listening before the child starts: a client may connect at once, and waits in the
        # queue until dbt has imported.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(self.socket))
            listener.listen(1)
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster_project.dbt_warm",
                    str(listener.fileno()),
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                cwd=_ROOT,
                pass_fds=[listener.fileno()],
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def env(self) -> dict[str, str]:
        return {SOCKET_ENV: str(self.socket)}

    def stop(self) -> None:
        """End the warm process if no command took it, wait for it, and remove its folder."""
        if self._proc.poll() is None and self.socket.exists():
            self._proc.terminate()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_AHEAD: WarmDbt | None = None


@atexit.register
def _stop_ahead() -> None:
    # Started ahead for a run that never took it (the run failed before its dbt resource).
    if _AHEAD is not None:
        _AHEAD.stop()


def start_ahead() -> None:
    """Start a warm dbt process now, before Dagster has loaded, for this process's next run to
    take (:func:`take`): the commands that build call this first thing."""
    global _AHEAD
    if _AHEAD is None:
        _AHEAD = WarmDbt()


def take() -> WarmDbt:
    """The warm dbt process started ahead, or a new one."""
    global _AHEAD
    warm, _AHEAD = _AHEAD, None
    if warm is not None and warm.alive():
        return warm
    if warm is not None:
        warm.stop()  # it died: only its folder is left to remove
    return WarmDbt()


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError("the dbt client went away")
        data += part
    return data


def serve(listener_fd: int, parent: int) -> int:
    """Import dbt, then run the one command a client sends on the listening socket
    ``listener_fd``, with that client's standard streams; end instead when process ``parent``
    (the one that started this) is gone."""
    server = socket.socket(fileno=listener_fd)
    path = server.getsockname()
    import dbt.adapters.duckdb  # noqa: F401  (the adapter a build registers)
    import dbt.task.build  # noqa: F401
    from dbt.cli.main import cli

    # The price models' Python (genai-prices' catalogue and the override parser): imported here
    # it costs the build nothing; imported by a model it is a fifth of a second in every build.
    import ingest.prices  # noqa: F401

    server.settimeout(ACCEPT_POLL_SECONDS)
    while True:
        try:
            conn, _ = server.accept()
            break
        except TimeoutError:
            # Nobody will ask once the process that started this one is gone, and nobody is
            # left to remove the folder either.
            if os.getppid() != parent:
                shutil.rmtree(Path(path).parent, ignore_errors=True)
                return 0
    conn.settimeout(None)
    server.close()
    with contextlib.suppress(OSError):
        os.unlink(path)
    head, fds, _, _ = socket.recv_fds(conn, 8, 3)
    head += _recv_exactly(conn, 8 - len(head))
    request = json.loads(_recv_exactly(conn, struct.unpack("<Q", head)[0]))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    conn.sendall(f"started {os.getpid()}\n".encode())
    sys.argv = ["dbt", *request["argv"]]
    # This process runs one dbt command and ends, so the cyclic garbage of one build (about
    # 55 MB) is never worth collecting: Python's collector walked the parsed project seven times
    # a build, 1.1-1.3 s of an 8-9 s build, and a build without it took 0.6-2.4 s less (four
    # alternated pairs, 2026-12-07).
    gc.disable()
    try:
        cli()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(f"exit {code}\n".encode())
    conn.close()
    return code


def _run_real_dbt(argv: list[str]) -> None:
    """Become the real dbt, running ``argv`` (no warm process)."""
    real = os.environ.get(REAL_DBT_ENV) or "dbt"
    os.execvp(real, [real, *argv])


def client(argv: list[str]) -> int:
    """Run dbt command ``argv`` in the warm process named by ``$METERR_DBT_WARM_SOCKET`` with
    this process's streams, directory and environment; its exit code is dbt's."""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        _run_real_dbt(argv)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)})
        socket.send_fds(conn, [struct.pack("<Q", len(request.encode()))], [0, 1, 2])
        conn.sendall(request.encode())
        replies = conn.makefile("r")
        started = replies.readline().split()
    except OSError:
        started = []
    if not started:
        # The warm process is gone before it ran anything: nothing happened, run dbt here.
        conn.close()
        _run_real_dbt(argv)
    server = int(started[1])

    def forward(signum: int, _frame: object) -> None:
        # dagster-dbt stops a dbt command by signalling its process: that is this one.
        os.kill(server, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    ended = replies.readline().split()
    if not ended:
        print("meterr: the warm dbt process ended without an exit code", file=sys.stderr)
        return 1
    return int(ended[1])


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        sys.exit(client(sys.argv[2:]))
    serve(int(sys.argv[1]), int(sys.argv[2]))
