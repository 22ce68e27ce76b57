"""Turning a dropped file into readable members: plain files pass through, gzip is inflated, zip
members come out one by one; text is normalised to UTF-8 so DuckDB can stream it.

Compression is recognised from the first bytes (gzip ``1f 8b``, zip ``PK``), not from the name.
Every limit here exists so that one hostile file cannot fill the disk or memory, or smuggle a path:

* a member may inflate to at most ``MAX_RATIO`` times its compressed size (+256 MiB) and the archive
  to at most ``MAX_INFLATED_BYTES`` (declared sizes are checked before anything is written, real
  sizes while inflating);
* zip member names may not escape the folder (``..``, absolute, drive letters), be symlinks or be
  encrypted; at most ``MAX_MEMBERS`` members; a gzipped member is inflated (under the same
  limits), any other archive inside an archive is refused;
* a line longer than ``reading.MAX_RECORD_BYTES`` (outside a JSON array, where one line may hold
  many records) refuses the file;
* UTF-8 BOM, UTF-16/32 (with a BOM) and BOM-less UTF-16 are converted to UTF-8; undecodable text
  is refused.

An archive is checked as a whole before its first member is yielded, so an unsafe archive loads
nothing. Refusals raise :class:`UnsafeFileError` (or its :class:`UnreadableFileError`) with the
reason the quarantine records.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import re
import shutil
import stat
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ingest.formats.base import Sample
from ingest.formats.reading import MAX_RECORD_BYTES

# An archive may inflate to at most this much, and each member to at most this many times its
# compressed size plus an allowance: request logs that repeat one long system prompt in every
# record compress 300:1 and more (a 300 KB gzip of a real-looking 88 MB Helicone export), while
# a bomb's point is gigabytes (zeros compress about 1000:1).
MAX_INFLATED_BYTES = 64 * 1024**3
MAX_RATIO = 200
RATIO_ALLOWANCE = 256 * 1024 * 1024
MAX_MEMBERS = 1000
SAMPLE_BYTES = 64 * 1024
COPY_CHUNK = 8 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Other containers meterr does not open; found inside an archive they are refused, not guessed at.
NESTED_MAGICS = (GZIP_MAGIC, *ZIP_MAGICS, b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c",
                 b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd")
SKIPPED_PARTS = ("__MACOSX",)


class UnsafeFileError(ValueError):
    """The file (or an archive member) is refused for safety; the message is the reason."""


class UnreadableFileError(UnsafeFileError):
    """The file cannot be decompressed or decoded as text; the message is the reason."""


@dataclass(frozen=True)
class Member:
    """One readable unit of a dropped file: itself, its inflated gzip, or one zip member."""

    name: str
    """Display name: the file name, or ``archive.zip:inner/name.csv`` for a member."""
    path: Path
    """A UTF-8 file on disk DuckDB can read (the original where no conversion was needed)."""
    sha256: str
    """SHA-256 of the bytes at ``path`` (what the ledger knows the content by)."""


def _container(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    return "plain"


def _text_encoding(head: bytes) -> str | None:
    """The encoding to convert from, or None when the bytes are (BOM-less) UTF-8 already."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # BOM-less UTF-16 (some Windows tools): ASCII text with every other byte NUL.
    sample = head[: len(head) - len(head) % 2]
    if len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
            return "utf-16-be"
    return None


def _decode_to_utf8(src: Path, workdir: Path, label: str, display: str) -> Path:
    """Return a UTF-8 path for ``src``: UTF-16/32 are re-encoded; a UTF-8 BOM is dropped."""
    with open(src, "rb") as handle:
        head = handle.read(1024)
    encoding = _text_encoding(head)
    if encoding is None:
        return src
    out = workdir / f"{label}.utf8"
    try:
        with open(src, encoding=encoding, newline="") as reader, open(
            out, "w", encoding="utf-8", newline=""
        ) as writer:
            shutil.copyfileobj(reader, writer, COPY_CHUNK)
    except UnicodeError as exc:
        raise UnreadableFileError(f"{display}: not valid {encoding} text ({exc.reason})") from exc
    return out


def _inflate(stream: BinaryIO, out: Path, compressed_size: int, label: str, budget: int) -> int:
    """Copy ``stream`` to ``out`` within the ratio limit and ``budget``; returns bytes written."""
    limit = min(budget, max(compressed_size, 1) * MAX_RATIO + RATIO_ALLOWANCE)
    written = 0
    try:
        with open(out, "wb") as writer:
            while chunk := stream.read(COPY_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise UnsafeFileError(
                        f"{label}: inflates beyond {limit:,} bytes (ratio over {MAX_RATIO}:1 or "
                        f"archive over {MAX_INFLATED_BYTES:,} bytes); refused as a decompression "
                        "bomb"
                    )
                writer.write(chunk)
    except (zlib.error, EOFError, gzip.BadGzipFile, NotImplementedError, RuntimeError) as exc:
        raise UnreadableFileError(f"{label}: cannot be decompressed ({exc})") from exc
    return written


def _gunzip(src: Path, out: Path, label: str, budget: int, compressed_size: int) -> int:
    """Inflate the gzip file ``src`` to ``out`` within ``budget`` and the ratio limit over
    ``compressed_size`` (the bytes as dropped); returns bytes written."""
    with gzip.open(src, "rb") as stream:
        return _inflate(stream, out, compressed_size, label, budget)


def _check_nested(path: Path, display: str) -> None:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(NESTED_MAGICS):
        raise UnreadableFileError(f"{display}: an archive inside an archive is not supported")


def _envelope_candidate(path: Path) -> bool:
    """Whether ``path`` could be a saved API response to unwrap whole: a JSON object no larger
    than :data:`MAX_ENVELOPE_BYTES` (one such document is often a single line)."""
    try:
        if path.stat().st_size > MAX_ENVELOPE_BYTES:
            return False
        with open(path, "rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _is_one_line(path: Path) -> bool:
    """Whether ``path`` holds one line (trailing blank lines aside)."""
    with open(path, "rb") as handle:
        seen_newline = False
        while chunk := handle.read(COPY_CHUNK):
            if seen_newline and chunk.strip():
                return False
            at = chunk.find(b"\n")
            if at >= 0:
                if chunk[at:].strip():
                    return False
                seen_newline = True
    return True


def scan_member(path: Path, display: str) -> str:
    """Refuse a file with a line longer than ``MAX_RECORD_BYTES`` (JSON arrays excepted) and
    return the SHA-256 of its bytes: one streaming pass for both, so a large file is read once.

    Only the first and last newline of each chunk are looked at, since the lines between lie
    inside one chunk (smaller than the limit). Lines are counted only for a refused file, to name
    the long line (counting every newline of a large file costs as much as hashing it).
    """
    digest = hashlib.sha256()
    long_line = False
    with open(path, "rb") as handle:
        # A JSON array (Langfuse writes one on a single line); DuckDB parses it per record.
        array = handle.read(SAMPLE_BYTES).lstrip(b" \t\r\n").startswith(b"[")
        handle.seek(0)
        carry = 0
        line_start = 0
        offset = 0
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
            offset += len(chunk)
            if array or long_line:
                continue
            first = chunk.find(b"\n")
            if first < 0:
                carry += len(chunk)
            else:
                if carry + first > MAX_RECORD_BYTES:
                    long_line = True
                else:
                    carry = len(chunk) - chunk.rfind(b"\n") - 1
                    line_start = offset - carry
            if carry > MAX_RECORD_BYTES:
                long_line = True
            # A saved API response ({"data": [...]}) is one document, often on one line, parsed
            # whole up to MAX_ENVELOPE_BYTES: its length is not one record's. Hashing goes on.
            if long_line and not _envelope_candidate(path):
                break
        else:
            if not long_line or _is_one_line(path):
                return digest.hexdigest()
    raise UnsafeFileError(
        f"{display}: line {_line_number(path, line_start)} is longer than "
        f"{MAX_RECORD_BYTES:,} bytes; refused (no usage record is that long)"
    )


def _line_number(path: Path, at: int) -> int:
    """The number (from 1) of the line starting at byte ``at`` of ``path``."""
    newlines = 0
    with open(path, "rb") as handle:
        while at > 0 and (chunk := handle.read(min(COPY_CHUNK, at))):
            newlines += chunk.count(b"\n")
            at -= len(chunk)
    return newlines + 1


# --- scanning ahead -------------------------------------------------------------------------------
# ``meterr ingest`` spends seconds starting Dagster, dbt and great-expectations: single-core Python.
# Meanwhile the other core can make the one pass every plain dropped file needs (hashlib lets go of
# the interpreter), so the load finds its digest ready instead of reading a multi-GB file first.

# (resolved path, size, mtime_ns, inode) -> SHA-256, for files scanned ahead and unchanged since.
_SCANNED_AHEAD: dict[tuple, str] = {}
_SCANNING: dict[tuple, threading.Event] = {}
_SCAN_LOCK = threading.Lock()


def _stat_key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def _plain_utf8(path: Path) -> bool:
    """True when ``path`` is its own member: not compressed, and UTF-8 text with no BOM."""
    if _container(path) != "plain":
        return False
    with open(path, "rb") as handle:
        return _text_encoding(handle.read(1024)) is None


def scan_ahead(paths: Iterable[Path]) -> threading.Thread:
    """Start :func:`scan_member` of each plain UTF-8 file in ``paths`` in a background thread
    (one file after another); :func:`iter_members` then takes the digest of a file unchanged since
    (same size, modification time and inode) instead of reading it again. A file the scan refuses,
    or that changes meanwhile, is simply scanned again when loaded (which says why)."""
    chosen = []
    with _SCAN_LOCK:
        for path in paths:
            key = _stat_key(path)
            if key is not None and key not in _SCANNED_AHEAD and key not in _SCANNING:
                _SCANNING[key] = threading.Event()
                chosen.append((path, key))

    def scan() -> None:
        for path, key in chosen:
            try:
                if _plain_utf8(path):
                    digest = scan_member(path, path.name)
                    if _stat_key(path) == key:
                        with _SCAN_LOCK:
                            _SCANNED_AHEAD[key] = digest
            except (OSError, UnsafeFileError):
                pass  # the load scans it again and reports what is wrong
            finally:
                with _SCAN_LOCK:
                    _SCANNING.pop(key).set()

    thread = threading.Thread(target=scan, name="meterr-scan-ahead", daemon=True)
    thread.start()
    return thread


def _scanned(path: Path, display: str) -> str:
    """:func:`scan_member` of ``path``, from the scan ahead when it covered this very file."""
    key = _stat_key(path)
    if key is not None:
        with _SCAN_LOCK:
            running = _SCANNING.get(key)
        if running is not None:
            running.wait()
        with _SCAN_LOCK:
            digest = _SCANNED_AHEAD.pop(key, None)
        if digest is not None:
            return digest
    return scan_member(path, display)


def _safe_member_name(name: str) -> str:
    """The member name with odd characters replaced; refuses names that escape the folder."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", posix):
        raise UnsafeFileError(f"zip member {name!r} escapes the folder; refused (zip slip)")
    cleaned = "/".join(part for part in path.parts if part not in ("", "."))
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in cleaned)[:200]


def _skipped(name: str) -> bool:
    """Finder/Explorer litter (``__MACOSX/``, ``.DS_Store``, ``._x``) is not data."""
    parts = name.split("/")
    return any(p in SKIPPED_PARTS for p in parts) or parts[-1].startswith(".")


def _zip_members(path: Path, workdir: Path) -> list[Member]:
    """Check a zip as a whole, then inflate and decode every member; nothing is yielded before."""
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise UnsafeFileError(f"zip has {len(infos)} members (limit {MAX_MEMBERS})")
        chosen: list[tuple[zipfile.ZipInfo, str]] = []
        declared = 0
        for info in infos:
            name = _safe_member_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeFileError(f"zip member {info.filename!r} is a symlink; refused")
            if _skipped(name):
                continue
            if info.flag_bits & 0x1:
                raise UnreadableFileError(f"zip member {info.filename!r} is encrypted")
            if info.file_size > max(info.compress_size, 1) * MAX_RATIO + RATIO_ALLOWANCE:
                raise UnsafeFileError(
                    f"zip member {name!r} declares {info.file_size:,} bytes from "
                    f"{info.compress_size:,} (ratio over {MAX_RATIO}:1); refused as a "
                    "decompression bomb"
                )
            declared += info.file_size
            chosen.append((info, name))
        if declared > MAX_INFLATED_BYTES:
            raise UnsafeFileError(
                f"zip declares {declared:,} bytes inflated (limit {MAX_INFLATED_BYTES:,})"
            )
        members: list[Member] = []
        budget = MAX_INFLATED_BYTES
        for index, (info, name) in enumerate(chosen):
            display = f"{path.name}:{name}"
            out = workdir / f"zip-{index}"
            try:
                with archive.open(info) as stream:
                    budget -= _inflate(stream, out, info.compress_size, display, budget)
            except (NotImplementedError, RuntimeError) as exc:
                raise UnreadableFileError(f"{display}: cannot be decompressed ({exc})") from exc
            if _container(out) == "gzip":
                # People zip folders of .jsonl.gz downloads: a gzipped member is read through,
                # once (_check_nested refuses it if compressed again). Its ratio counts from its
                # bytes in the zip, so gzip inside zip cannot multiply the two ratios.
                inner = workdir / f"zip-{index}.gunzip"
                budget -= _gunzip(out, inner, display, budget, info.compress_size)
                out.unlink()  # the compressed copy is no longer needed; free its disk now
                out = inner
            _check_nested(out, display)
            readable = _decode_to_utf8(out, workdir, f"zip-{index}", display)
            members.append(Member(display, readable, scan_member(readable, display)))
    return members


def iter_members(path: Path, workdir: Path) -> Iterator[Member]:
    """Yield each readable member of ``path``; scratch files go to ``workdir`` (caller empties it).

    Raises :class:`UnsafeFileError` for bombs, escaping names, over-long lines and archives with
    too many members, :class:`UnreadableFileError` for undecodable content, and
    ``OSError``/``zipfile.BadZipFile``/``gzip.BadGzipFile`` for damaged containers.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    kind = _container(path)
    if kind == "gzip":
        inner = workdir / "member.gz.out"
        _gunzip(path, inner, path.name, MAX_INFLATED_BYTES, path.stat().st_size)
        _check_nested(inner, path.name)
        readable = _decode_to_utf8(inner, workdir, "gz", path.name)
        # Named as dropped (``usage.jsonl.gz``): that is the name the user looks for in archive/.
        yield Member(path.name, readable, scan_member(readable, path.name))
    elif kind == "zip":
        yield from _zip_members(path, workdir)
    else:
        readable = _decode_to_utf8(path, workdir, "plain", path.name)
        yield Member(path.name, readable, _scanned(readable, path.name))


# --- detection sample -------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r'\s*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([{}\[\],:])|(-?[0-9][0-9eE.+-]*|true|false|null))', re.S
)


def first_record_keys(text: str) -> list[str] | None:
    """Top-level keys of the first JSON object in ``text`` (a JSON Lines file or an array), or
    None unless that object is complete and well-formed in ``text``."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        stripped = stripped[1:].lstrip()
    if not stripped.startswith("{"):
        return None
    keys: list[str] = []
    depth = 0
    expect_key = False
    pos = 0
    while True:
        match = _JSON_TOKEN.match(stripped, pos)
        if match is None:
            return None
        pos = match.end()
        string, punct, _scalar = match.groups()
        if punct in ("{", "["):
            depth += 1
            expect_key = depth == 1 and punct == "{"
        elif punct in ("}", "]"):
            depth -= 1
            if depth == 0:
                return keys
        elif punct == ",":
            expect_key = depth == 1
        elif string is not None and expect_key:
            try:
                keys.append(json.loads(f'"{string}"'))
            except json.JSONDecodeError:
                return None
            expect_key = False


def read_sample(path: Path, name: str) -> Sample:
    """The decoded head of a UTF-8 member for format detection (a partial last line is cut).

    When the first JSON record does not fit the head (a request with a long prompt), up to
    ``MAX_RECORD_BYTES`` are scanned for its top-level keys and the sample is that record with
    its values left out: detection needs only the keys.
    """
    with open(path, "rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    if len(raw) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]
    sample = Sample(text=text, name=name)
    if not text.lstrip().startswith(("{", "[")) or sample.first_json_object() is not None:
        return sample
    if len(raw) < SAMPLE_BYTES:
        return sample
    with open(path, "rb") as handle:
        head = handle.read(MAX_RECORD_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    keys = first_record_keys(head)
    if keys is None:
        if len(head.encode("utf-8", errors="replace")) >= MAX_RECORD_BYTES:
            reason = (
                f"{name}: the first JSON record is longer than {MAX_RECORD_BYTES:,} bytes "
                "(or malformed)"
            )
            if _envelope_candidate(path):
                # Perhaps a saved API response on one line: the caller tries to unwrap it.
                return Sample(text=sample.text, name=name, oversized=reason)
            raise UnsafeFileError(reason)
        return sample
    return Sample(text=json.dumps(dict.fromkeys(keys)) + "\n", name=name)


# API responses saved to a file wrap the records: ``{"data": [...], "total": ..., "page": ...}``
# (Helicone's request query, LiteLLM's /spend/logs/v2). The whole document is parsed, so only
# documents up to this size are unwrapped: a larger dump should be JSON Lines.
MAX_ENVELOPE_BYTES = 256 * 1024 * 1024


def unwrap_envelope(path: Path, sample: Sample, workdir: Path) -> Path | None:
    """The records of a saved API response (``{"data": [records...], ...}``) as a JSON Lines file
    in ``workdir``; None when ``path`` is not such a document (or is too large to parse whole).

    Only a top-level object whose ``data`` is a list of objects counts; the other keys (paging,
    totals) are dropped. Called for files no format recognised, so a plain export never pays for
    the parse.
    """
    if not sample.text.lstrip().startswith("{") or path.stat().st_size > MAX_ENVELOPE_BYTES:
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            document = json.load(handle)
    except (ValueError, UnicodeError):
        return None
    records = document.get("data") if isinstance(document, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / (path.name + ".records.jsonl")
    with open(out, "w", encoding="utf-8") as writer:
        for one in records:
            writer.write(json.dumps(one, ensure_ascii=False) + "\n")
    return out
