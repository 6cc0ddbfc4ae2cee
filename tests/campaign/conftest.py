"""Fixtures for the campaign tests: a real records store on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.records.store import RecordsStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "callbox.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RecordsStore]:
    s = RecordsStore(db_path)
    yield s
    s.close()
