"""``/metrics``: the box in Prometheus text format (``prometheus-client``), on a registry of its own.

What the records and the lines hold is read at scrape time (a collector over the source of truth, so a restart
resets nothing): calls by outcome, each line's state and signal, the outbox backlog per target, the bytes the
recordings take (summed over the records' index of kept recordings, not walked on disk). What only a running
call knows, turn latency and recognition confidence, the conversations tell :class:`BoxMetrics` as a
:class:`~appliance.dialog.runtime.ports.TurnObserver`, into two histograms.

=================================  =========  ================  ==========================================
metric                             type       labels            what
=================================  =========  ================  ==========================================
callbox_calls_total                counter    outcome           ended calls (records)
callbox_line_state                 gauge      line, state       1 for the line's current state, else 0
callbox_line_signal_dbm            gauge      line              the signal at the last health check
callbox_outbox_backlog             gauge      target, topic     outbox rows not delivered nor given up
callbox_recordings_bytes           gauge                        bytes of the kept recordings (records)
callbox_turn_latency_seconds       histogram                    customer's endpoint -> bot's reply starts
callbox_recognition_confidence     histogram                    a customer turn's recognition confidence
=================================  =========  ================  ==========================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from appliance.records.store import RecordsStore
from appliance.records.tallies import calls_by_outcome, outbox_backlog, recordings_bytes
from appliance.telephony.line import Line
from appliance.telephony.linestate import LineState
from appliance.telephony.ports import LinePort

__all__ = ["CALLBACK_TARGET", "CONFIDENCE_BUCKETS", "LATENCY_BUCKETS", "BoxMetrics"]

# A reply within 20 ms is a cached prompt behind an early endpoint; past 3 s the customer has asked "hello?".
LATENCY_BUCKETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
CALLBACK_TARGET = "callback"  # outbox rows that go to [web] callback_url (tickets of no connected helpdesk)


class BoxMetrics:
    """The box's registry. ``helpdesks``: the helpdesks whose tickets go back through their own REST API (a
    row's target)."""

    def __init__(self, *, records: RecordsStore, lines: Sequence[LinePort], helpdesks: Sequence[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._latency = Histogram("callbox_turn_latency_seconds",
                                  "From the customer's endpoint to the first frame of the bot's reply",
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self._confidence = Histogram("callbox_recognition_confidence",
                                     "Recognition confidence of each customer turn (0..1)",
                                     buckets=CONFIDENCE_BUCKETS, registry=self.registry)
        self.registry.register(_BoxCollector(records, lines, frozenset(helpdesks)))

    # -- TurnObserver (appliance.dialog.runtime.ports) ------------------------------
    def turn_latency(self, seconds: float) -> None:
        self._latency.observe(max(0.0, seconds))

    def recognised(self, confidence: float) -> None:
        self._confidence.observe(min(1.0, max(0.0, confidence)))

    # -- the scrape ------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _BoxCollector(Collector):
    def __init__(self, records: RecordsStore, lines: Sequence[LinePort], helpdesks: frozenset[str]) -> None:
        self.records = records
        self.lines = lines
        self.helpdesks = helpdesks

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected at scrape time only: no database read when the registry is built

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("callbox_calls", "Ended calls by outcome", labels=["outcome"])
        for outcome, n in sorted(calls_by_outcome(self.records.db).items()):
            calls.add_metric([outcome], n)
        yield calls

        state = GaugeMetricFamily("callbox_line_state", "1 for the line's current state, 0 for the others",
                                  labels=["line", "state"])
        signal = GaugeMetricFamily("callbox_line_signal_dbm", "Signal at the line's last health check (dBm)",
                                   labels=["line"])
        for line in self.lines:
            for s in LineState:
                state.add_metric([line.name, s.value], 1.0 if line.state is s else 0.0)
            health = line.health if isinstance(line, Line) else None  # simulated ports report no signal
            if health is not None and health.signal_dbm is not None:
                signal.add_metric([line.name], health.signal_dbm)
        yield state
        yield signal

        backlog = GaugeMetricFamily("callbox_outbox_backlog", "Outbox rows waiting for delivery",
                                    labels=["target", "topic"])
        totals: dict[tuple[str, str], int] = {}
        for (topic, helpdesk), n in outbox_backlog(self.records.db).items():
            key = (helpdesk if helpdesk in self.helpdesks else CALLBACK_TARGET, topic)
            totals[key] = totals.get(key, 0) + n
        for (target, topic), n in sorted(totals.items()):
            backlog.add_metric([target, topic], n)
        yield backlog

        yield GaugeMetricFamily("callbox_recordings_bytes", "Bytes taken by the kept call recordings",
                                value=recordings_bytes(self.records.db))
