"""Files the box writes whole: never half a file after a power cut; and the state dir kept private (0700/0600)."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import stat
import tempfile
import uuid
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "fsync_dir", "load_or_create_box_id", "load_or_create_secret",
           "make_private", "private_dir", "write_atomic"]

log = logging.getLogger(__name__)

# The box's state (callbox.db with its -wal and -shm, the recordings, the secrets, the box id, the config store)
# holds customers' numbers, their voices and the keys to the panel: no other local user may read it.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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


def private_dir(path: Path) -> Path:
    """``path`` made if need be, each folder made on the way 0700 too (mkdir's mode is cut by the umask, so it is
    set), and ``path`` itself left 0700."""
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        made.chmod(PRIVATE_DIR)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(PRIVATE_DIR)
    return path


def make_private(root: Path) -> int:
    """Take group's and others' access away from ``root`` (made if need be) and everything under it: state left
    readable by an older box or copied in by hand; the owner's own bits stay. Symbolic links are not followed; a
    file the box does not own is logged and left. Returns how many modes were changed."""
    root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    changed = 0

    def fix(path: str) -> None:
        nonlocal changed
        try:
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) or not stat.S_IMODE(mode) & 0o077:
                return
            os.chmod(path, stat.S_IMODE(mode) & ~0o077)
            changed += 1
        except OSError as exc:
            log.warning("cannot make %s private (%s): other local users may read it", path, exc)

    fix(str(root))
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            fix(os.path.join(folder, name))
    if changed:
        log.info("made %d file(s) and folder(s) under %s private to the box's user", changed, root)
    return changed
