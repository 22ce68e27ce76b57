"""Scanning dropped files ahead of their load: the digest is reused only for the very same bytes."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from ingest import unpack
from ingest.formats.reading import MAX_RECORD_BYTES


def _refuse_rescans(monkeypatch: pytest.MonkeyPatch) -> None:
    def rescan(path: Path, display: str) -> str:
        raise AssertionError(f"{display} was read again")

    monkeypatch.setattr(unpack, "scan_member", rescan)


def _members(path: Path, tmp_path: Path) -> list[unpack.Member]:
    return list(unpack.iter_members(path, tmp_path / "work"))


def test_a_file_scanned_ahead_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b'{"request_id": "r1", "prompt_tokens": 3}\n' * 1000)
    unpack.scan_ahead([path]).join()
    _refuse_rescans(monkeypatch)
    [member] = _members(path, tmp_path)
    assert member.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_changed_after_its_scan_is_scanned_again(tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b'{"request_id": "r1"}\n')
    unpack.scan_ahead([path]).join()
    with open(path, "ab") as handle:
        handle.write(b'{"request_id": "r2"}\n')
    [member] = _members(path, tmp_path)
    assert member.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_the_scan_refuses_is_refused_with_its_reason_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "' + b"x" * (MAX_RECORD_BYTES + 10) + b'"}\n')
    unpack.scan_ahead([path]).join()
    with pytest.raises(unpack.UnsafeFileError, match="long.jsonl: line 2 is longer than"):
        _members(path, tmp_path)


def test_compressed_and_converted_files_are_left_to_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their member is another file (inflated or re-encoded): scanning the original is no use."""
    packed = tmp_path / "usage.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"request_id": "r1"}\n'))
    utf16 = tmp_path / "usage16.jsonl"
    utf16.write_bytes('{"request_id": "r1"}\n'.encode("utf-16"))
    scanned = []
    original = unpack.scan_member
    monkeypatch.setattr(unpack, "scan_member", lambda p, d: scanned.append(p) or original(p, d))
    unpack.scan_ahead([packed, utf16]).join()
    assert scanned == []
    for path in (packed, utf16):
        [member] = _members(path, tmp_path)
        assert member.sha256 == hashlib.sha256(member.path.read_bytes()).hexdigest()
