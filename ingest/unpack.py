"""Turning a dropped file into readable members: plain files pass through, ``.gz`` is inflated,
``.zip`` members come out one by one; text is normalised to UTF-8 so DuckDB can stream it.

Every limit here exists so that one hostile file cannot fill the disk or memory: inflated size,
member count and member names are checked before anything is written.
"""

from __future__ import annotations

import codecs
import gzip
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.formats.base import Sample

# An inflated member may be at most this large, and at most this many times its compressed size.
MAX_INFLATED_BYTES = 64 * 1024**3
MAX_RATIO = 200
MAX_MEMBERS = 1000
SAMPLE_BYTES = 64 * 1024
COPY_CHUNK = 1024 * 1024


class UnsafeFileError(ValueError):
    """The file (or an archive member) is refused for safety; the message is the reason."""


@dataclass(frozen=True)
class Member:
    """One readable unit of a dropped file: itself, its inflated ``.gz``, or one ``.zip`` member."""

    name: str
    """Display name: the file name, or ``archive.zip:inner/name.csv`` for a member."""
    path: Path
    """A UTF-8 file on disk DuckDB can read (the original where no conversion was needed)."""


def _decode_to_utf8(src: Path, workdir: Path, label: str) -> Path:
    """Return a UTF-8 path for ``src``: UTF-16 (by BOM) is re-encoded; a UTF-8 BOM is dropped."""
    with open(src, "rb") as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        return src
    out = workdir / f"{label}.utf8"
    with open(src, encoding=encoding, newline="") as reader, open(
        out, "w", encoding="utf-8", newline=""
    ) as writer:
        shutil.copyfileobj(reader, writer, COPY_CHUNK)
    return out


def _inflate(stream, out: Path, compressed_size: int, label: str) -> None:
    limit = min(MAX_INFLATED_BYTES, max(compressed_size, 1) * MAX_RATIO + 10 * 1024 * 1024)
    written = 0
    with open(out, "wb") as writer:
        while chunk := stream.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise UnsafeFileError(
                    f"{label}: inflates beyond {limit:,} bytes (ratio over {MAX_RATIO}:1); "
                    "refused as a decompression bomb"
                )
            writer.write(chunk)


def _safe_member_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or name.startswith("/"):
        raise UnsafeFileError(f"zip member {name!r} escapes the folder")
    cleaned = "/".join(part for part in path.parts if part not in ("", "."))
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in cleaned)


def iter_members(path: Path, workdir: Path) -> Iterator[Member]:
    """Yield each readable member of ``path``; scratch files go to ``workdir`` (caller empties it).

    Raises :class:`UnsafeFileError` for bombs, escaping names and archives with too many members,
    and ``OSError``/``zipfile.BadZipFile``/``gzip.BadGzipFile`` for unreadable containers.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    lower = path.name.lower()
    if lower.endswith(".gz"):
        inner = workdir / "member.gz.out"
        with gzip.open(path, "rb") as stream:
            _inflate(stream, inner, path.stat().st_size, path.name)
        yield Member(path.name[:-3], _decode_to_utf8(inner, workdir, "gz"))
    elif lower.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise UnsafeFileError(f"zip has {len(infos)} members (limit {MAX_MEMBERS})")
            names = [_safe_member_name(i.filename) for i in infos]
            for index, (info, name) in enumerate(zip(infos, names, strict=True)):
                if name.rsplit("/", 1)[-1].startswith((".", "__MACOSX")) or "__MACOSX" in name:
                    continue
                out = workdir / f"zip-{index}"
                with archive.open(info) as stream:
                    _inflate(stream, out, info.compress_size, f"{path.name}:{name}")
                yield Member(f"{path.name}:{name}", _decode_to_utf8(out, workdir, f"zip-{index}"))
                os.unlink(out) if out.exists() else None
    else:
        yield Member(path.name, _decode_to_utf8(path, workdir, "plain"))


def read_sample(path: Path, name: str) -> Sample:
    """The decoded head of a UTF-8 member for format detection (a partial last line is cut)."""
    with open(path, "rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    if len(raw) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]
    return Sample(text=text, name=name)
