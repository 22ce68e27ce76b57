"""great-expectations answers from a child process: one per process, restarted when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from ingest import gx_process
from ingest.gx_process import Expectation, GxProcessError

NOT_NULL = Expectation("ExpectColumnValuesToNotBeNull", {"column": "model"})
NON_NEGATIVE = Expectation("ExpectColumnValuesToBeBetween", {"column": "tokens", "min_value": 0})


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"model": ["a", None, "c"], "tokens": [1, 2, -3]})


def test_one_child_answers_with_plain_results() -> None:
    first = gx_process.start()
    assert NOT_NULL.type == "expect_column_values_to_not_be_null"
    assert gx_process.start() is first  # a second start reuses the running child
    assert first.pid != os.getpid() and first.alive()
    # Asked at once, while the child may still be loading GX: the answer waits for it.
    failed = gx_process.check(_frame(), [NOT_NULL, NON_NEGATIVE], "test")
    assert [(f.type, f.column) for f in failed] == [
        ("expect_column_values_to_not_be_null", "model"),
        ("expect_column_values_to_be_between", "tokens"),
    ]
    assert failed[0].result["unexpected_count"] == 1
    assert failed[1].result["partial_unexpected_list"] == [-3]
    # Plain Python only, so this process never needs GX or numpy to read them.
    assert type(failed[1].result["partial_unexpected_list"][0]) is int
    clean = pd.DataFrame({"model": ["a"], "tokens": [0]})
    assert gx_process.check(clean, [NOT_NULL, NON_NEGATIVE], "test") == []


def test_a_failing_request_is_reported_and_the_child_keeps_serving() -> None:
    with pytest.raises(GxProcessError, match="ExpectNoSuchThing"):
        gx_process.check(_frame(), [Expectation("ExpectNoSuchThing", {})], "test")
    assert len(gx_process.check(_frame(), [NOT_NULL], "test")) == 1


def test_a_child_that_died_is_started_again() -> None:
    child = gx_process.start()
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(GxProcessError, match="ended"):
        child.check(_frame(), [NOT_NULL], "test")
    again = gx_process.start()
    assert again is not child and again.pid != child.pid
    assert len(gx_process.check(_frame(), [NOT_NULL], "test")) == 1


def test_stop_ends_the_child() -> None:
    child = gx_process.start()
    gx_process.stop()
    assert not child.alive()
    assert gx_process.start() is not child


def test_the_child_ends_when_the_process_that_started_it_is_gone() -> None:
    code = (
        "from ingest import gx_process; import os\n"
        "print(gx_process.start().pid, flush=True)\nos._exit(0)"
    )
    parent = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True, timeout=60
    )
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the GX child {child} outlived its parent")


def test_packages_the_gate_never_uses_are_not_run_when_gx_loads() -> None:
    # GX imports altair (charts) and scipy.stats (distributional expectations) as it loads; the
    # child defers their modules to first use. Checked in a fresh interpreter, as the child is.
    code = (
        "import sys\nfrom ingest import gx_process\ngx, definition = gx_process._load()\n"
        "import pandas as pd\n"
        "frame = pd.DataFrame({'model': ['a', None]})\n"
        "failed = gx_process._failed(gx, definition, 's', "
        "[gx_process.Expectation('ExpectColumnValuesToNotBeNull', {'column': 'model'})], frame)\n"
        "print(len(failed))\n"
        "for name in ('altair', 'altair.vegalite', 'scipy.stats'):\n"
        "    print(name, type(sys.modules.get(name)).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True, timeout=120
    ).stdout.split("\n")
    assert out[0] == "1"  # GX still validates
    for line in out[1:4]:
        name, kind = line.split()
        # Imported by GX, not yet run: a module object whose code runs on first attribute read.
        assert kind in ("_LazyModule", "NoneType"), f"{name} was loaded: {kind}"
    # And on first use it loads for real.
    code = (
        "from ingest import gx_process\ngx_process._load()\nimport scipy.stats\n"
        "print(scipy.stats.norm.cdf(0))"
    )
    assert subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True, timeout=120
    ).stdout.strip() == "0.5"
