"""Files the box writes whole: never half a file after a power cut."""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import uuid
from pathlib import Path

__all__ = ["fsync_dir", "load_or_create_box_id", "load_or_create_secret", "write_atomic"]


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``; with
    ``sync_dir`` also fsync the folder so the rename itself survives a power cut."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_secret(path: Path, *, prefix: str = "whsec_") -> str:
    """A secret kept in the state dir (0600): the webhook secret when the config names none,
    and the panel's session key, so that logins survive a restart."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    secret = prefix + base64.b64encode(secrets.token_bytes(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret


def load_or_create_box_id(path: Path) -> str:
    """This installation's id, made once (a random UUID) and kept in the state dir: a fresh state dir is a new
    installation. Outbox message ids start with it, so two boxes, or one box reinstalled, never send one id for
    two different messages."""
    if path.exists():
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    box_id = uuid.uuid4().hex
    write_atomic(path, (box_id + "\n").encode("ascii"), sync_dir=True)
    return box_id
