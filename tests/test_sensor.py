"""``drop_folder_sensor`` through ``build_sensor_context``: run requests *and* the new cursor."""

from __future__ import annotations

import json
import os
import time

import dagster as dg

from dagster_project.resources import DropFolder
from dagster_project.sensors import drop_folder_sensor
from ingest.paths import MeterrHome
from tests.conftest import usage_row, write_custom_csv


def _settled(path) -> None:
    old = time.time() - 60
    os.utime(path, (old, old))


def _tick(home: MeterrHome, cursor: str | None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"drop_folder": DropFolder(home=str(home.root))}
    )
    return drop_folder_sensor(context)


def test_one_run_per_new_file_and_none_for_a_seen_one(home: MeterrHome) -> None:
    a = write_custom_csv(home.drop / "a.csv", [usage_row(1)])
    b = write_custom_csv(home.drop / "sub" / "b.csv", [usage_row(2)])
    for path in (a, b):
        _settled(path)
    first = _tick(home, None)
    assert len(first.run_requests) == 2
    files = sorted(
        r.run_config["ops"]["drop_folder_files"]["config"]["files"][0] for r in first.run_requests
    )
    assert files == sorted([str(a), str(b)])
    assert all(r.tags["meterr/sha256"] in r.run_key for r in first.run_requests)
    cursor = json.loads(first.cursor)
    assert set(cursor) == {"a.csv", "sub/b.csv"}

    second = _tick(home, first.cursor)
    assert second.run_requests == []
    assert json.loads(second.cursor) == cursor

    c = write_custom_csv(home.drop / "c.csv", [usage_row(3)])
    _settled(c)
    third = _tick(home, second.cursor)
    assert [r.tags["meterr/file"] for r in third.run_requests] == ["c.csv"]


def test_unsettled_and_hidden_files_wait(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "fresh.csv", [usage_row(1)])  # mtime = now: still copying
    hidden = write_custom_csv(home.drop / ".in-progress.csv", [usage_row(2)])
    _settled(hidden)
    result = _tick(home, None)
    assert result.run_requests == []
    assert json.loads(result.cursor) == {}


def test_processed_files_leave_the_cursor(home: MeterrHome) -> None:
    a = write_custom_csv(home.drop / "a.csv", [usage_row(1)])
    _settled(a)
    first = _tick(home, None)
    a.unlink()  # a run archived it
    assert json.loads(_tick(home, first.cursor).cursor) == {}


def test_a_file_the_sensor_cannot_read_still_gets_its_run(home: MeterrHome, tmp_path) -> None:
    """A link to nothing cannot be hashed: the tick requests its run (which quarantines it with
    its reason) instead of failing, and the other files are requested as usual."""
    good = write_custom_csv(home.drop / "good.csv", [usage_row(1)])
    _settled(good)
    link = home.drop / "gone.csv"
    link.symlink_to(tmp_path / "deleted.csv")
    old = time.time() - 60
    os.utime(link, (old, old), follow_symlinks=False)
    result = _tick(home, None)
    requested = {r.tags["meterr/file"]: r for r in result.run_requests}
    assert set(requested) == {"good.csv", "gone.csv"}
    assert requested["gone.csv"].tags["meterr/sha256"] == "unreadable"
    # Two such files of the same time still get a run each (run keys are per file then).
    assert "gone.csv" in requested["gone.csv"].run_key
    assert requested["good.csv"].tags["meterr/sha256"] != "unreadable"


def test_a_folder_the_sensor_cannot_reach_is_named_by_the_tick(home: MeterrHome, tmp_path) -> None:
    """A symbolic link to a folder is not followed (as a whole-folder run does not follow it):
    its files get no run, and a tick with nothing else to request says why in its skip reason,
    which is what the sensor's page in Dagster's UI shows."""
    elsewhere = tmp_path / "elsewhere"
    _settled(write_custom_csv(elsewhere / "linked.csv", [usage_row(1)]))
    (home.drop / "exports").symlink_to(elsewhere, target_is_directory=True)
    result = _tick(home, None)
    assert result.run_requests == []
    assert result.skip_reason is not None
    assert "exports/: skipped: a symbolic link to a folder" in result.skip_reason.skip_message
    assert json.loads(result.cursor) == {}

    # With a file to request, the tick requests it (and only logs the skipped folder).
    good = write_custom_csv(home.drop / "good.csv", [usage_row(2)])
    _settled(good)
    result = _tick(home, None)
    assert [r.tags["meterr/file"] for r in result.run_requests] == ["good.csv"]
