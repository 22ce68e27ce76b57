"""The dbt executable dagster-dbt launches: hands the command to a warm dbt process, or runs dbt.

Standard library only, run without site-packages (``python -S``) so it starts in milliseconds;
see :mod:`dagster_project.dbt_warm`.
"""

import json
import os
import signal
import socket
import struct
import sys

SOCKET_ENV = "METERR_DBT_WARM_SOCKET"
REAL_DBT_ENV = "METERR_DBT_EXECUTABLE"


def run_real_dbt() -> None:
    """Become the real dbt (the same command, without a warm process)."""
    real = os.environ.get(REAL_DBT_ENV) or "dbt"
    os.execvp(real, [real, *sys.argv[1:]])


def main() -> int:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        run_real_dbt()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        request = json.dumps(
            {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}
        ).encode()
        socket.send_fds(conn, [struct.pack("<Q", len(request))], [0, 1, 2])
        conn.sendall(request)
        replies = conn.makefile("r")
        started = replies.readline().split()
    except OSError:
        started = []
    if not started:
        # The warm process is gone before it ran anything: nothing happened, run dbt here.
        conn.close()
        run_real_dbt()
    server = int(started[1])

    def forward(signum, _frame):
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
    sys.exit(main())
