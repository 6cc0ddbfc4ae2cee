"""The box's state is its user's alone (issue 14, "Hardening on the shop's LAN"): callbox.db with its -wal and
-shm, the recordings and their folders, the secrets, the box id and the config store are 0600/0700 when made,
even under a lax umask, and a state dir an older box left readable is fixed when the box starts."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import Config
from appliance.files import load_or_create_box_id, load_or_create_secret, make_private
from appliance.records.config_store import ConfigStore
from appliance.records.db import Database
from appliance.records.recordings import StereoRecorder, recording_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The umask a shell or an older unit leaves (022: new files readable by everyone)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_the_database_and_its_wal_and_shm_are_made_0600(tmp_path: Path, lax_umask: None):
    db = Database(tmp_path / "callbox.db")
    try:
        db.write(lambda c: c.execute("INSERT INTO users (username, password_hash, created_at) VALUES ('a','h','t')"))
        files = [tmp_path / name for name in ("callbox.db", "callbox.db-wal", "callbox.db-shm")]
        assert all(f.exists() for f in files)
        assert [mode(f) for f in files] == [0o600] * 3
    finally:
        db.close()


def test_an_existing_readable_database_is_made_0600_when_opened(tmp_path: Path, lax_umask: None):
    path = tmp_path / "callbox.db"
    Database(path).close()
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    db = Database(path)
    try:
        assert mode(path) == 0o600
        assert all(mode(f) == 0o600 for f in tmp_path.iterdir() if f.name.startswith("callbox.db"))
    finally:
        db.close()


def test_a_recording_and_its_folders_are_private(tmp_path: Path, lax_umask: None):
    root = tmp_path / "recordings"
    path = recording_path(root, "+15550100", 7, datetime(2026, 12, 4, tzinfo=UTC))
    recorder = StereoRecorder(path)
    recorder.write(b"\x01\x00" * 160, b"\x02\x00" * 160)
    recorder.close()
    assert mode(path) == 0o600 and path.stat().st_size > 44  # the frames are in the file: it was closed whole
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700 and mode(root) == 0o700


def test_secrets_the_box_id_and_the_config_store_are_0600(tmp_path: Path, lax_umask: None):
    load_or_create_secret(tmp_path / "webhook-secret")
    load_or_create_secret(tmp_path / "session-key", prefix="")
    load_or_create_box_id(tmp_path / "box-id")
    store = ConfigStore(tmp_path / "config.json")
    try:
        store.set_setting("probe", {"x": 1})
    finally:
        store.close()
    made = list(tmp_path.iterdir())
    assert {p.name for p in made} >= {"webhook-secret", "session-key", "box-id", "config.json"}
    assert {p.name: mode(p) for p in made} == {p.name: 0o600 for p in made}


def test_make_private_fixes_a_readable_tree_and_leaves_links(tmp_path: Path):
    root = tmp_path / "state"
    (root / "recordings" / "+1555" / "2026-12-04").mkdir(parents=True)
    wav = root / "recordings" / "+1555" / "2026-12-04" / "1.wav"
    wav.write_bytes(b"RIFF")
    (root / "callbox.db").write_bytes(b"")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the box's")
    outside.chmod(0o644)
    (root / "link").symlink_to(outside)
    for p in (root, root / "recordings", root / "recordings" / "+1555", wav.parent):
        p.chmod(0o755)
    wav.chmod(0o644)
    (root / "callbox.db").chmod(0o664)
    assert make_private(root) == 6
    assert mode(root) == mode(root / "recordings") == mode(wav.parent) == 0o700
    assert mode(wav) == mode(root / "callbox.db") == 0o600
    assert mode(outside) == 0o644  # a link's target outside the state dir is not touched
    assert make_private(root) == 0  # nothing left to fix


def test_the_box_fixes_an_older_readable_state_dir_at_start(tmp_path: Path, pocketsphinx_engine: object,
                                                            lax_umask: None):
    """A state dir as an older box left it (0755 folders, 0644 files): after the box starts, nothing in it is open
    to other local users, and what the box makes then is private too."""
    state = tmp_path / "state"
    old = Callbox(Config(state_dir=state), lines=[],
                  speech=SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None))  # type: ignore[arg-type]
    old.stop()
    (state / "recordings" / "+1555" / "2026-12-01").mkdir(parents=True, exist_ok=True)
    (state / "recordings" / "+1555" / "2026-12-01" / "1.wav").write_bytes(b"RIFF")
    for folder, _dirs, files in os.walk(state):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    box = Callbox(Config(state_dir=state), lines=[],
                  speech=SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None))  # type: ignore[arg-type]
    try:
        readable = [str(p.relative_to(state)) for p in [state, *state.rglob("*")]
                    if not p.is_symlink() and mode(p) & 0o077]
        assert readable == []
        names = {p.name for p in state.iterdir()}
        assert {"callbox.db", "config.json", "webhook-secret", "session-key", "recordings"} <= names, names
    finally:
        box.stop()
