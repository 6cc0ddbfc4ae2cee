"""Configuration documents (flows, the owner's rules and scenarios, settings) in TinyDB, written atomically."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from appliance.errors import StorageError
from appliance.files import write_atomic

T = TypeVar("T")


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file: temp file, fsync, rename."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.generation = 0  # counts this process's writes (ConfigStore.derived)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StorageError(f"{self.path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise StorageError(f"{self.path} does not hold a JSON object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
        try:
            write_atomic(self.path, text.encode("utf-8"), sync_dir=True)
        finally:
            self.generation += 1

    def close(self) -> None:
        pass


class ConfigStore:
    """Flows (with immutable published versions), rules and scenarios, settings. TinyDB is not thread-safe: one
    lock."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.RLock()  # reentrant: set_decisions' check reads flows under it
        self._db = TinyDB(str(path), storage=AtomicJSONStorage)
        self.path = path
        self._derived: dict[str, tuple[tuple[int, ...], Any]] = {}

    def _signature(self) -> tuple[int, ...]:
        """This process's writes so far and the file's identity: any write changes it, ours (the generation)
        or another process's (``callbox rules set`` renames a new file in: a new inode, mtime and size)."""
        storage: AtomicJSONStorage = self._db.storage  # type: ignore[assignment]
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (storage.generation,)
        return storage.generation, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size

    def derived(self, key: str, build: Callable[[ConfigStore], T]) -> T:
        """``build(self)``, kept until the file changes, so that what every ticket needs (the parsed rules, the
        published flows) is not read and parsed again per ticket. The signature is taken before ``build`` reads,
        so a write racing it only costs a rebuild. The value is shared: ``build`` returns something its users do
        not change (frozen dataclasses, tuples, frozensets). An exception from ``build`` is not kept."""
        with self._lock:
            signature = self._signature()
            kept = self._derived.get(key)
            if kept is not None and kept[0] == signature:
                return kept[1]  # type: ignore[no-any-return]
            value = build(self)
            self._derived[key] = (signature, value)
            return value

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- flows -------------------------------------------------------------
    def publish_flow(self, flow: dict[str, Any]) -> int:
        """Store a new immutable version of a flow; returns its version number."""
        flow_id = flow["id"]
        q = Query()
        with self._lock:
            versions = self._db.table("flow_versions")
            existing = versions.search(q.flow_id == flow_id)
            latest = max(existing, key=lambda d: d["version"], default=None)
            if latest is not None and latest["document"] == flow:
                return int(latest["version"])
            version = (latest["version"] + 1) if latest else 1
            versions.insert({"flow_id": flow_id, "version": version, "document": flow})
            return version

    def flow(self, flow_id: str, version: int | None = None) -> tuple[int, dict[str, Any]] | None:
        q = Query()
        with self._lock:
            found = self._db.table("flow_versions").search(q.flow_id == flow_id)
        if version is not None:
            found = [d for d in found if d["version"] == version]
        if not found:
            return None
        doc = max(found, key=lambda d: d["version"])
        return int(doc["version"]), doc["document"]

    def flow_versions(self, flow_id: str) -> list[int]:
        """The published version numbers of a flow, oldest first."""
        q = Query()
        with self._lock:
            found = self._db.table("flow_versions").search(q.flow_id == flow_id)
        return sorted(int(d["version"]) for d in found)

    def published(self, flow_id: str) -> bool:
        """Whether any version of ``flow_id`` is published (read from the file only when it changed)."""
        return flow_id in self.derived("published_flow_ids", lambda store: frozenset(store.flow_ids()))

    def flow_ids(self) -> list[str]:
        with self._lock:
            return sorted({d["flow_id"] for d in self._db.table("flow_versions").all()})

    # -- the owner's rules and scenarios (appliance.campaign.ruleset) ---------
    def decisions(self) -> dict[str, list[dict[str, Any]]] | None:
        """The stored rules and scenarios ``{"rules": [...], "scenarios": [...]}``, or None before the first
        set was stored."""
        with self._lock:
            return self._decisions()

    def _decisions(self) -> dict[str, list[dict[str, Any]]] | None:
        found = self._db.table("decisions").all()  # .all(): no query cache, so another process's write shows
        return {"rules": found[0]["rules"], "scenarios": found[0]["scenarios"]} if found else None

    def set_decisions(
        self,
        *,
        rules: list[dict[str, Any]] | None = None,
        scenarios: list[dict[str, Any]] | None = None,
        check: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Replace the rules, the scenarios, or both, in one atomic write of the file. ``check(rules, scenarios)``
        sees the whole new set under the store's lock and may raise to refuse it (nothing is written)."""
        with self._lock:
            current = self._decisions() or {"rules": [], "scenarios": []}
            new = {"rules": rules if rules is not None else current["rules"],
                   "scenarios": scenarios if scenarios is not None else current["scenarios"]}
            if check is not None:
                check(new["rules"], new["scenarios"])
            table = self._db.table("decisions")
            if table.all():
                table.update(new)  # one write of the file
            else:
                table.insert(new)
            return new

    def legacy_trigger_rules(self) -> list[dict[str, Any]]:
        """Rules stored by boxes before rules and scenarios (``{name, type, order_status, subject_contains,
        flow}``), in order; read once to carry them over."""
        with self._lock:
            docs = self._db.table("trigger_rules").all()
        return [{k: v for k, v in d.items() if k != "position"} for d in sorted(docs, key=lambda d: d["position"])]

    # -- settings ----------------------------------------------------------
    def setting(self, key: str) -> Any:
        q = Query()
        with self._lock:
            found = self._db.table("settings").get(q.key == key)
        return found["value"] if found else None  # type: ignore[index,call-overload]

    def set_setting(self, key: str, value: Any) -> None:
        q = Query()
        with self._lock:
            self._db.table("settings").upsert({"key": key, "value": value}, q.key == key)
