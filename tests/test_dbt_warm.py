"""A warm dbt process runs the command its client hands over, exactly as dbt would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from dagster_project import dbt_warm
from dagster_project.dbt_project import DBT_DIR, DBT_EXECUTABLE, dbt_env
from dagster_project.dbt_warm import CLIENT, PYTHON_ENV, REAL_DBT_ENV, WarmDbt


def _client(args: list[str], warm: WarmDbt | None, cwd=DBT_DIR) -> subprocess.CompletedProcess:
    env = {**os.environ, REAL_DBT_ENV: DBT_EXECUTABLE, PYTHON_ENV: sys.executable}
    env.pop(dbt_warm.SOCKET_ENV, None)
    if warm is not None:
        env.update(warm.env())
    return subprocess.run(
        [str(CLIENT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def test_the_warm_process_runs_the_command_and_returns_its_exit_code(tmp_path) -> None:
    real = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True)
    warm = WarmDbt()
    try:
        done = _client(["--version"], warm)
        assert (done.returncode, done.stdout) == (real.returncode, real.stdout)
        # It served that one command and ended; its socket went with it.
        assert _gone(warm.pid, within=30)
        assert not warm.socket.exists()
    finally:
        warm.stop()
    assert not warm.folder.exists()
    # dbt's usage error keeps dbt's exit code (2), and its message reaches the client's stderr.
    real = subprocess.run([DBT_EXECUTABLE, "no-such-command"], capture_output=True, text=True)
    warm = WarmDbt()
    try:
        done = _client(["no-such-command"], warm)
        assert done.returncode == real.returncode == 2
        assert "no-such-command" in done.stderr + done.stdout
        assert _gone(warm.pid, within=30)
    finally:
        warm.stop()


def test_the_command_sees_the_clients_directory_and_environment(tmp_path, monkeypatch) -> None:
    """``dbt debug --config-dir`` prints where dbt looks for profiles.yml: $DBT_PROFILES_DIR from
    the client's environment, else the client's working directory when it holds a profiles.yml
    (neither is the warm process's own)."""
    env_dir, work_dir = tmp_path / "profiles-here", tmp_path / "work"
    env_dir.mkdir()
    work_dir.mkdir()
    (work_dir / "profiles.yml").write_text("{}\n")
    warm = WarmDbt()
    try:
        monkeypatch.setenv("DBT_PROFILES_DIR", str(env_dir))
        done = _client(["debug", "--config-dir"], warm, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert str(env_dir) in done.stdout
    finally:
        warm.stop()
    warm = WarmDbt()
    try:
        monkeypatch.delenv("DBT_PROFILES_DIR")
        done = _client(["debug", "--config-dir"], warm, cwd=work_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        assert str(work_dir) in done.stdout
    finally:
        warm.stop()


def test_without_a_warm_process_the_client_runs_dbt_itself() -> None:
    real = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True)
    done = _client(["--version"], None)
    assert (done.returncode, done.stdout) == (real.returncode, real.stdout)
    # A warm process that died before the command: the client runs dbt itself.
    warm = WarmDbt()
    try:
        os.kill(warm.pid, signal.SIGKILL)
        assert _gone(warm.pid, within=10)
        done = _client(["--version"], warm)
        assert (done.returncode, done.stdout) == (real.returncode, real.stdout)
    finally:
        warm.stop()


def test_an_unused_warm_process_ends_with_the_process_that_started_it() -> None:
    code = (
        "from dagster_project.dbt_warm import WarmDbt; import os\n"
        "w = WarmDbt(); print(w.pid, w.folder, flush=True); os._exit(0)"
    )
    parent = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    pid, folder = parent.stdout.split()
    assert _gone(int(pid), within=60)
    assert not Path(folder).exists()  # it took its socket's folder with it


def test_a_run_started_ahead_is_taken_once() -> None:
    dbt_warm.start_ahead()
    first = dbt_warm._AHEAD
    dbt_warm.start_ahead()  # already one waiting
    assert dbt_warm._AHEAD is first
    taken = dbt_warm.take()
    try:
        assert taken is first and dbt_warm._AHEAD is None
        fresh = dbt_warm.take()  # nothing ahead any more: a new one
        assert fresh is not first
        fresh.stop()
    finally:
        taken.stop()
    # One started ahead that died is cleared away, and the run gets a live one.
    dbt_warm.start_ahead()
    dead = dbt_warm._AHEAD
    os.kill(dead.pid, signal.SIGKILL)
    assert _gone(dead.pid, within=10)
    live = dbt_warm.take()
    try:
        assert live is not dead and live.alive() and not dead.folder.exists()
    finally:
        live.stop()


def test_a_signal_to_the_client_stops_the_command_in_the_warm_process(tmp_path) -> None:
    """dagster-dbt stops a dbt command by signalling the process it started (the client): the
    signal must reach the warm process running the command, or a cancelled run would leave dbt
    working on. The command: a query DuckDB needs minutes for."""
    warm = WarmDbt()
    env = {
        **dbt_env(tmp_path / "warehouse.duckdb"),
        REAL_DBT_ENV: DBT_EXECUTABLE,
        PYTHON_ENV: sys.executable,
        **warm.env(),
    }
    slow = "select sum(range % 7) from range(1000000000000)"
    client = subprocess.Popen(
        [str(CLIENT), "show", "--inline", slow, "--project-dir", str(DBT_DIR),
         "--profiles-dir", str(DBT_DIR)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Once dbt has read the project ("Found ... models"), the query follows at once.
        seen = []
        for line in client.stdout:
            seen.append(line)
            if "Found " in line:
                break
        time.sleep(3)  # the query is under way in DuckDB
        assert psutil.Process(warm.pid).status() != psutil.STATUS_ZOMBIE, "".join(seen)
        client.send_signal(signal.SIGINT)
        rest = client.communicate(timeout=120)[0]
        assert client.returncode != 0
        assert _gone(warm.pid, within=60), "".join(seen) + rest
        assert "without an exit code" not in rest  # dbt itself ended the command and said how
    finally:
        client.kill()
        warm.stop()
