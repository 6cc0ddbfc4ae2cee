"""Publishing flows: check a document, store it as a new immutable version, render its fixed prompts ahead.

The panel publishes and answers at once; the prompts render on the box's one prerender thread (named,
stopped and joined with the box), not on a thread per publish. ``callbox flow prerender`` and the tests
render in the caller's thread with a progress callback.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from appliance.campaign.ruleset import install_default_rules
from appliance.campaign.voices import FlowPrompts
from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.dialog.flow.model import Flow
from appliance.errors import CallboxError
from appliance.records.config_store import ConfigStore
from appliance.speech.tts.prompts import PrerenderReport, PromptSource

log = logging.getLogger(__name__)

BUILTIN_FLOWS = ("delivery-confirmation.en",)
Progress = Callable[[int, int, str], None]

__all__ = ["BUILTIN_FLOWS", "FlowPublisher", "RenderProgress", "install_defaults"]


@dataclass
class RenderProgress:
    """Where a published version's prompts are on the prerender thread, for the panel's progress bar.
    ``state``: queued -> rendering -> done | failed (``error``: why, in plain words)."""

    version: int
    state: str = "queued"
    done: int = 0
    total: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def install_defaults(configs: ConfigStore) -> None:
    """First boot: the built-in flows and the default rules and scenarios (rules the owner deleted stay
    deleted)."""
    for name in BUILTIN_FLOWS:
        flow = load_flow(builtin_flow_path(name))
        if configs.flow(flow.id) is None:
            configs.publish_flow(flow.document)
    install_default_rules(configs)


class FlowPublisher:
    """``prompts`` is None when the box's synthesiser is not a piper voice (then nothing is rendered ahead)."""

    def __init__(self, configs: ConfigStore, prompts: FlowPrompts | None, *, prerender_on_publish: bool) -> None:
        self.configs = configs
        self.prompts = prompts
        self.prerender_on_publish = prerender_on_publish
        # a flow's prompts to render, an event to set once all before it are done, or None: stop
        self._queue: queue.Queue[tuple[PromptSource, int] | threading.Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._progress: dict[str, RenderProgress] = {}  # flow id -> its latest queued version's rendering

    def _source(self, flow: Flow) -> PromptSource | None:
        return self.prompts.for_flow(flow) if self.prompts is not None else None  # an unknown voice fails here

    def publish(self, document: dict[str, Any], *, progress: Progress | None = None) -> int:
        """Validate and publish ``document`` as a new version, then render its static prompts ahead
        (``[speech] prerender_on_publish``) in this thread, reporting ``progress(done, total, text)``."""
        flow = parse_flow(document)
        source = self._source(flow)
        version = self.configs.publish_flow(document)
        if source is not None and self.prerender_on_publish:
            source.prerender(progress=progress)
        return version

    def publish_soon(self, document: dict[str, Any]) -> int:
        """Publish now; render the prompts on the prerender thread so the page answers at once."""
        flow = parse_flow(document)
        source = self._source(flow)
        version = self.configs.publish_flow(document)
        if source is not None and self.prerender_on_publish:
            self._enqueue(source, version)
        return version

    def render_progress(self, flow_id: str) -> dict[str, Any] | None:
        """The rendering of the flow's last version published here: ``{version, state, done, total, error}``;
        None when nothing was queued for it (prompts not rendered ahead on this box, or not published here)."""
        with self._lock:
            found = self._progress.get(flow_id)
            return found.as_dict() if found is not None else None

    def prerender_flow(self, flow: Flow, *, progress: Progress | None = None) -> PrerenderReport | None:
        """Render a flow's static prompts into the cache (None when the box has no piper voice)."""
        source = self._source(flow)
        return source.prerender(progress=progress) if source is not None else None

    def prerender_published(self) -> int:
        """Render the static prompts of every published flow's latest version that are not cached yet
        (flows installed before this voice, these settings or this version of the renderer).
        Returns how many prompts were synthesised."""
        if self.prompts is None or not self.prerender_on_publish:
            return 0
        rendered = 0
        for flow_id in self.configs.flow_ids():
            found = self.configs.flow(flow_id)
            if found is None:
                continue
            try:
                report = self.prerender_flow(parse_flow(found[1]))
            except CallboxError as exc:  # a bad stored flow or voice: its calls will say so too
                log.warning("flow %s: prompts not prerendered: %s", flow_id, exc)
                continue
            rendered += report.rendered if report is not None else 0
        return rendered

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued rendering is done (tests, shutdown); False on time-out."""
        done = threading.Event()
        with self._lock:
            if self._thread is None:
                return True
            self._queue.put(done)
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s did not stop within %.0f s", thread.name, timeout)

    def _enqueue(self, source: PromptSource, version: int) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prerender", daemon=True)
                self._thread.start()
            self._progress[source.flow_id] = RenderProgress(version)
            self._queue.put((source, version))

    def _update(self, flow_id: str, version: int, **changes: Any) -> None:
        """Change a rendering's progress, unless a newer version of the flow was queued since."""
        with self._lock:
            found = self._progress.get(flow_id)
            if found is not None and found.version == version:
                for key, value in changes.items():
                    setattr(found, key, value)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            source, version = item
            flow_id = source.flow_id

            def progress(done: int, total: int, _text: str, flow_id: str = flow_id, version: int = version) -> None:
                self._update(flow_id, version, done=done, total=total)

            self._update(flow_id, version, state="rendering")
            try:
                report = source.prerender(progress=progress)
            except CallboxError as exc:
                log.warning("flow %s: prompts not prerendered: %s", flow_id, exc)
                self._update(flow_id, version, state="failed", error=str(exc))
            except Exception:  # the thread outlives one bad flow
                log.exception("flow %s: prompts not prerendered", flow_id)
                self._update(flow_id, version, state="failed", error="the voice could not render them")
            else:
                self._update(flow_id, version, state="done", done=report.total, total=report.total)
