"""`callbox sim modem --profile P [--customer SCRIPT] [--fault F]`: run one simulated modem.

Prints its port paths (stable symlinks that survive a simulated unplug) so a
person or a test can point `callbox call`, `callbox modem probe` or a
``[[lines]]`` entry at it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appliance.sim.customer import BEHAVIOURS, MACHINE_GREETINGS, CustomerScript, reply_keys
from appliance.sim.families import FAMILIES, simulated_modem
from appliance.sim.faults import FAULTS, PluggableModem, apply_fault
from appliance.sim.modem import SimulatedModem

VOICES_DIR = Path(__file__).resolve().parent / "voices"

# Last digit of the number -> what the customer does. Anything else answers.
BEHAVIOUR_BY_LAST_DIGIT = {
    "1": "busy",
    "2": "no_answer",
    "3": "reject",
    "4": "silent",
    "5": "hangup_mid_sentence",
    "7": "voicemail",
    "8": "sit",
    "9": "announcement",
}
_SCRIPT_KEYS = {
    "behaviour", "replies", "greeting", "greeting_delay_ms", "ring_ms", "max_call_s", "reply_gap_ms", "prompt_end_ms",
    "voice_rms", "echo_db", "echo_delay_ms", "barge_in_ms",
}  # fmt: skip
# A reply is a WAV path (relative to the script file) or "dtmf:<keys>" to press keys instead of speaking.


def default_directory(number: str, *, voices_dir: Path = VOICES_DIR) -> CustomerScript:
    """Every number answers, except by last digit: 1 busy, 2 no answer, 3 reject,
    4 silent, 5 hangs up mid-sentence, 7 a voicemail (greeting and beep), 8 the network's special-information
    tones and announcement, 9 an announcement alone. The customer greets with ``*hello*.wav``
    and then answers prompts with ``*confirm*.wav`` (``*reschedule*.wav`` for
    numbers ending in 6), falling back to every other WAV in ``voices_dir``."""
    behaviour = BEHAVIOUR_BY_LAST_DIGIT.get(number[-1:], "answer")
    wavs = sorted(voices_dir.glob("*.wav")) if voices_dir.is_dir() else []
    greeting = next((p for p in wavs if "hello" in p.stem), None)
    topic = "reschedule" if number.endswith("6") else "confirm"
    replies = [p for p in wavs if topic in p.stem] or [p for p in wavs if p != greeting]
    if behaviour in MACHINE_GREETINGS:  # plays its own greeting, answers nothing
        return CustomerScript(behaviour=behaviour)
    return CustomerScript(behaviour=behaviour, replies=replies, greeting=greeting)


def customer_from_spec(spec: str, *, voices_dir: Path = VOICES_DIR) -> CustomerScript:
    """``--customer``: a behaviour name (``busy``; ``answer`` greets and confirms with the shipped voices)
    or a JSON file with CustomerScript fields (relative WAV paths are read from the file's folder)."""
    if spec in MACHINE_GREETINGS:
        return CustomerScript(behaviour=spec)
    if spec in BEHAVIOURS:
        base = default_directory("0", voices_dir=voices_dir)
        return CustomerScript(behaviour=spec, replies=base.replies, greeting=base.greeting)
    path = Path(spec)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        known = ", ".join(BEHAVIOURS)
        raise ValueError(f"--customer {spec!r}: not a behaviour ({known}) nor a JSON file: {exc}") from exc
    if not isinstance(data, dict) or set(data) - _SCRIPT_KEYS:
        unknown = sorted(set(data) - _SCRIPT_KEYS) if isinstance(data, dict) else ["(not an object)"]
        raise ValueError(f"--customer {spec}: unknown keys {unknown}")
    folder = path.parent
    if "replies" in data:
        data["replies"] = [p if reply_keys(p) is not None else folder / p for p in data["replies"]]
    if data.get("greeting"):
        data["greeting"] = folder / data["greeting"]
    return CustomerScript(**data)


def _unplug_during_first_call(sim: SimulatedModem, plug: PluggableModem, stop: threading.Event, *, after_s: float,
                              back_s: float) -> threading.Thread:
    """The CLI's ``--fault unplug``: 1 s into the first answered call, unplug; plug back 5 s later."""

    def watch() -> None:
        while not stop.wait(0.05):
            if any(c.connected_at is not None for c in sim.calls):
                if not stop.wait(after_s):
                    plug.unplug()
                    print(f"fault: unplugged; back in {back_s:g} s", flush=True)
                    if not stop.wait(back_s):
                        plug.replug()
                        print("fault: plugged back in", flush=True)
                return

    thread = threading.Thread(target=watch, name="sim-unplug-fault", daemon=True)
    thread.start()
    return thread


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `callbox sim modem` (shared by the CLI and :func:`run_sim_modem`)."""
    families = ", ".join(FAMILIES)
    parser.add_argument("--profile", default="huawei-e1550", help=f"one of {families}")
    parser.add_argument("--customer", default=None, metavar="SCRIPT",
                        help="every number gets this customer: a behaviour name or a JSON script file")
    parser.add_argument("--fault", action="append", default=[], choices=FAULTS, help="switch a fault on (repeatable)")
    parser.add_argument("--fault-seconds", type=float, default=10.0, help="how long a timed fault lasts")
    parser.add_argument("--ring-ms", type=int, default=800, help="ring time before a customer answers")
    parser.add_argument("--voices", type=Path, default=VOICES_DIR, help="folder of customer reply WAVs")
    parser.add_argument("--json", action="store_true", help="print the ports as one JSON line")
    parser.add_argument("-v", "--verbose", action="store_true", dest="sim_verbose")


def run_sim_modem(args: Sequence[str] | None = None, *, stop: threading.Event | None = None,
                  on_ready: Callable[[dict[str, str]], None] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callbox sim modem", description=__doc__)
    add_arguments(parser)
    return run_sim_modem_opts(parser.parse_args(args), parser, stop=stop, on_ready=on_ready)


def run_sim_modem_opts(opts: argparse.Namespace, parser: argparse.ArgumentParser, *,
                       stop: threading.Event | None = None,
                       on_ready: Callable[[dict[str, str]], None] | None = None) -> int:
    if stop is None:
        verbose = opts.sim_verbose or getattr(opts, "verbose", 0)
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")
    voices: Path = opts.voices
    directory: Callable[[str], CustomerScript]
    if opts.customer:
        try:
            script = customer_from_spec(opts.customer, voices_dir=voices)
        except (ValueError, TypeError) as exc:
            parser.error(str(exc))
        directory = lambda n: script  # noqa: E731
    else:
        directory = lambda n: default_directory(n, voices_dir=voices)  # noqa: E731
    try:
        sim = simulated_modem(opts.profile, directory, ring_ms=opts.ring_ms)
    except ValueError as exc:
        parser.error(str(exc))
    sim.start()
    plug = PluggableModem(sim)
    waiter = stop or threading.Event()
    helpers: list[threading.Thread] = []
    said = []
    for fault in opts.fault:
        if fault == "unplug":
            helpers.append(_unplug_during_first_call(sim, plug, waiter, after_s=1.0, back_s=5.0))
            said.append("unplugged 1 s into the first answered call, back 5 s later")
        else:
            said.append(apply_fault(sim, fault, seconds=opts.fault_seconds))
    audio = plug.audio_port if plug.audio_port.startswith("fifo:") else f"serial:{plug.audio_port}"
    ports = {"profile": opts.profile, "at_port": plug.at_port, "audio": audio, "at_pty": sim.at_port}
    if opts.json:
        print(json.dumps({**ports, "faults": said}), flush=True)
    else:
        print(f"profile:    {opts.profile}", flush=True)
        print(f"AT port:    {sim.at_port}", flush=True)
        print(f"audio port: {sim.audio_port}", flush=True)
        print(f"stable:     --at-port {plug.at_port} --audio {audio}  (these survive --fault unplug)", flush=True)
        for line in said:
            print(f"fault:      {line}", flush=True)
        if not opts.customer:
            print("numbers ending in 1 busy, 2 no answer, 3 reject, 4 silent, 5 hang up mid-sentence; "
                  "others answer.", flush=True)
        print(f"try: callbox call 5550100 --profile {opts.profile} --at-port {plug.at_port} --audio {audio}. "
              "Ctrl-C to stop.", flush=True)
    if on_ready is not None:
        on_ready(ports)
    if stop is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: waiter.set())  # clean up the ptys and links on kill too
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        waiter.set()
        for thread in helpers:
            thread.join(2.0)
        sim.stop()
        plug.close()
    return 0
