"""A conversation: plays the flow's prompts on a call's audio and listens for the answers.

The call's audio (:class:`~appliance.dialog.runtime.ports.CallAudio`), the
recogniser (:class:`~appliance.speech.asr.base.AsrEngine`) and the prompts
(:class:`~appliance.speech.tts.player.PromptPlayer`) come in as interfaces, so
this layer never touches a modem or loads a model itself. Waiting for the
callee's greeting is :mod:`appliance.dialog.runtime.greeting`; rendering a
prompt's next part while the current one plays, :mod:`appliance.dialog.runtime.prefetch`.

Turn taking (the decisions themselves are in :mod:`appliance.speech.vad`):

* A prompt is played in chunks (a templated one sentence by sentence) while
  every frame heard meanwhile goes to the endpointer's barge-in count, paired
  with the frame the pump wrote in the same tick (``read_frame_with_played``)
  so the echo guard can tell the bot's own echo from the customer. A barge-in
  flushes the prompt at once; the frames heard become the start of the answer.
* No-input is counted from the end of the prompt.
* While the customer pauses, the recogniser's partial text decides how long
  the pause may last: a closed answer already heard ends the turn after
  ``complete_answer_silence_ms``, an unfinished phrase or a long-answer node
  waits ``long_utterance_wait_ms``.
* A pause of ``EARLY_DECODE_AFTER_MS`` tells the recogniser session (``pause``), so an
  engine that decodes the whole turn at once (Whisper) starts while the end-of-turn
  silence runs; speech again (``resume``) throws that decode away.
* :attr:`Conversation.marks` keeps when each prompt started and ended, each
  barge-in, endpoint, recognition result and no-input, for the figures in
  ``bench/turn_latency.py``; an ``observer`` (:class:`~appliance.dialog.runtime.ports.TurnObserver`) is told
  each turn's latency (endpoint -> the reply's first frame handed to the line) and recognition confidence.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from appliance.config import VuiConfig
from appliance.dialog.flow.model import Listen
from appliance.dialog.runtime.engine import FlowRun, Step
from appliance.dialog.runtime.goodbye import goodbye_text
from appliance.dialog.runtime.greeting import PREROLL_FRAMES, AnsweredBy, CalleeGreeting, GreetingLimits
from appliance.dialog.runtime.ports import CallAudio, EndpointerLike, TurnObserver
from appliance.dialog.runtime.prefetch import PromptPrefetch
from appliance.dialog.runtime.voicemail import BeepWait, await_recording
from appliance.events import Utterance
from appliance.speech.asr.base import AsrEngine
from appliance.speech.tts.player import Prompt, PromptPlayer
from appliance.speech.vad import EndpointEvent

log = logging.getLogger(__name__)


DEFAULT_NO_INPUT_MS = 7000  # a flow's default no_input_ms: the box's own setting applies then
KEY_GAP_MS = 3000  # a keyed number (a slot) ends this long after its last key, or at "#"
PARTIAL_EVERY_MS = 100  # while the customer pauses, look at the partial transcript this often
# A pause this long may be the end of the turn: the recogniser may start decoding (Whisper, speculatively;
# thrown away if the customer goes on). Pauses between words are shorter; the end of a turn takes 300-1500 ms.
EARLY_DECODE_AFTER_MS = 200
# The box is stopping (SIGTERM): the prompt playing may go on this long, then it is cut for the goodbye, so the
# goodbye and the hang-up fit in the 10 s systemd grants (TimeoutStopSec) with room to spare.
CLOSING_PROMPT_S = 4.0


@dataclass(frozen=True)
class KeyEntry:
    """Keys the customer pressed instead of speaking ("#" that ended a number left out)."""

    digits: str


@dataclass(frozen=True)
class ConversationLimits:
    max_call_s: float = 300.0
    frame_timeout_s: float = 1.0
    # On answering, wait this long for the callee's "Hello?" before greeting; a human usually speaks
    # within a second or two, and some networks report "answered" while it still rings.
    greeting_wait_ms: int = 2000
    # ... and once they speak, greet after this much silence (or when the greeting runs too long).
    greeting_end_ms: int = 400
    greeting_max_ms: int = 4000
    barge_in: bool = True  # the customer may talk over a prompt that expects an answer

    @classmethod
    def configured(cls, max_call_s: float, vui: VuiConfig) -> ConversationLimits:
        """The limits of a call the box places: ``[calling] max_call_s`` and the greeting's ``[vui]`` timings."""
        return cls(max_call_s=max_call_s, greeting_wait_ms=vui.greeting_wait_ms, greeting_end_ms=vui.greeting_end_ms)


class Conversation:
    def __init__(
        self,
        run: FlowRun,
        port: CallAudio,
        asr: AsrEngine,
        prompts: PromptPlayer,
        endpointer: EndpointerLike,
        *,
        ended: threading.Event,
        limits: ConversationLimits | None = None,
        use_grammar: bool = True,
        call_id: int | str = "-",
        keys: Callable[[float], str | None] | None = None,
        voicemail: bool = True,
        observer: TurnObserver | None = None,
        on_turn: Callable[[dict[str, Any]], None] | None = None,
        closing: threading.Event | None = None,
    ) -> None:
        self.run = run
        # set when the box stops (SIGTERM): the prompt playing finishes (at most CLOSING_PROMPT_S more), the bot
        # says a short goodbye instead of listening, and the call ends; ``closed_by_box`` says it happened
        self.closing = closing
        self.closed_by_box = False
        self._closing_seen: float | None = None
        self.observer = observer
        # told each turn as it is added (the panel's live transcript): the turn's JSON with its ``index`` and
        # ``at_ms``; on the conversation's thread, must return at once
        self.on_turn = on_turn
        self._endpoint_at: float | None = None  # the last endpoint whose reply has not started yet
        # an answering machine hears the flow's voicemail node, if it has one (False: this call leaves none,
        # e.g. a message was left for the ticket before); ``voicemail_left`` says whether it was spoken
        self.voicemail = voicemail
        self.voicemail_left = False
        self.keys = keys  # the next key the customer pressed (ActiveCall.read_dtmf), None: no keypad
        self._pressed = ""  # keys pressed during a prompt, for the turn that follows
        self.port = port
        self.asr = asr
        self.prompts = prompts
        self.endpointer = endpointer
        self.ended = ended
        self.limits = limits or ConversationLimits()
        self.use_grammar = use_grammar
        self.call_id = call_id
        self._t0 = time.monotonic()
        # who answered (greeting.py): a person, or a machine / the network (``screened``: no conversation)
        self.greeting: CalleeGreeting | None = None
        self.turn_times_ms: list[int] = []
        # (what, time.monotonic(), node): prompt_start, prompt_end, barge_in, endpoint, recognised, no_input
        self.marks: list[tuple[str, float, str]] = []

    def _now_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def _mark(self, what: str, node: str) -> None:
        self.marks.append((what, time.monotonic(), node))

    def _observe(self, *, latency: float | None = None, confidence: float | None = None) -> None:
        """Tell the observer, if there is one; a broken observer never ends a call."""
        if self.observer is None:
            return
        try:
            if latency is not None:
                self.observer.turn_latency(latency)
            if confidence is not None:
                self.observer.recognised(confidence)
        except Exception:
            log.exception("call %s: turn observer failed", self.call_id)

    def _reply_started(self) -> None:
        if self._endpoint_at is not None:
            latency = time.monotonic() - self._endpoint_at
            self._endpoint_at = None
            self._observe(latency=latency)

    def _read(self, timeout: float) -> tuple[bytes, bytes] | None:
        """The next customer frame and what the bot wrote in the same tick."""
        return self.port.read_frame_with_played(timeout)

    def _over_time(self) -> bool:
        return time.monotonic() - self._t0 > self.limits.max_call_s

    def _mark_turns(self) -> None:
        while len(self.turn_times_ms) < len(self.run.turns):
            self.turn_times_ms.append(self._now_ms())
            if self.on_turn is not None:
                index = len(self.turn_times_ms) - 1
                try:
                    self.on_turn(self.run.turns[index].to_json() | {"index": index,
                                                                    "at_ms": self.turn_times_ms[index]})
                except Exception:  # a broken listener never ends a call
                    log.exception("call %s: turn listener failed", self.call_id)

    def execute(self) -> bool:
        """Run the flow to its end. Returns False if the customer hung up (or time ran out) first, or a
        machine answered (after leaving the flow's voicemail message, if it has one)."""
        completed = self._converse()
        if self.screened and self.voicemail:
            self._leave_voicemail()
        return completed

    def _leave_voicemail(self) -> None:
        """A machine answered: wait for it to record (its beep, or the end of its greeting) and speak the
        flow's voicemail message (:mod:`appliance.dialog.runtime.voicemail`)."""
        greeting = self.greeting
        if (greeting is None or greeting.answered_by is not AnsweredBy.MACHINE or greeting.screen is None
                or self.run.flow.voicemail is None or self.run.finished or self.ended.is_set()
                or self._closing()):
            return
        if not greeting.beep:
            when = await_recording(greeting.screen, self.port, self.ended,
                                   BeepWait(frame_timeout_s=self.limits.frame_timeout_s))
            if when is None:
                log.info("call %s: the machine never recorded (no beep, no end of its greeting): no message",
                         self.call_id)
                return
            log.info("call %s: the machine records (%s)", self.call_id, when.value)
        step = self.run.voicemail()
        if step is None:
            return
        self._mark_turns()
        log.info("call %s: bot leaves a message (%s): %s", self.call_id, step.node, step.say)
        self.voicemail_left = self._say(step) is not None

    def _closing(self) -> bool:
        """The box is stopping (noted the first time it is seen, for the prompt's grace)."""
        if self.closing is None or not self.closing.is_set():
            return False
        if self._closing_seen is None:
            self._closing_seen = time.monotonic()
        return True

    def _cut_for_closing(self) -> bool:
        """The box has been stopping for CLOSING_PROMPT_S: the prompt playing stops for the goodbye."""
        return self._closing() and time.monotonic() - (self._closing_seen or 0.0) >= CLOSING_PROMPT_S

    def _goodbye(self) -> bool:
        """The box stops under the call: a short goodbye in the flow's language, then the call ends. False
        (the flow did not finish), as for a customer who hung up."""
        if self.ended.is_set():
            return False
        step = self.run.box_stopping(goodbye_text(self.run.flow.language))
        self._mark_turns()
        self.closed_by_box = True
        log.info("call %s: the box is stopping; bot says goodbye (%s): %s", self.call_id, step.node, step.say)
        self._say(step)
        return False

    def _converse(self) -> bool:
        if not self._await_callee():
            return False
        if self._closing():
            return self._goodbye()
        step = self.run.start()
        while True:
            self._mark_turns()
            log.info("call %s: bot says (%s): %s", self.call_id, step.node, step.say)
            barged = self._say(step)
            if barged is None or self.screened:
                return False
            if not step.listen:
                return True
            if self._closing():  # the prompt was said; no answer is waited for
                return self._goodbye()
            utterance = self._listen(step, barged)
            if utterance is None:
                return self._goodbye() if self._closing() else False
            if isinstance(utterance, KeyEntry):
                log.info("call %s: customer pressed %r", self.call_id, utterance.digits)
                step = self.run.dtmf(utterance.digits)
                self._mark_turns()
                continue
            log.info("call %s: customer said %r (confidence %.2f)", self.call_id, utterance.text, utterance.confidence)
            if utterance.text:
                self._observe(confidence=utterance.confidence)
            if barged and not utterance.text:
                # talked over the prompt but said nothing we heard (a cough, a "hm"): the node's
                # barge-in prompt ("Sorry, go ahead.") and listen again
                step = self.run.interrupted()
            else:
                if barged:  # the answer started over the prompt: the bot's turn was cut short
                    self.run.talked_over()
                step = self.run.hear(utterance.text, confidence=utterance.confidence,
                                     alternatives=utterance.alternatives)
            self._mark_turns()

    def _await_callee(self) -> bool:
        """Listen for the callee's greeting, so the bot neither talks over it nor greets a ringing line."""
        lim = self.limits
        greeting = CalleeGreeting.await_on(
            self.port, self.asr, self.ended,
            GreetingLimits(lim.frame_timeout_s, lim.greeting_wait_ms, lim.greeting_end_ms, lim.greeting_max_ms),
        )
        self.greeting = greeting
        if greeting.screened:
            log.info("call %s: %s answered (%s), decided %d ms after the answer: no conversation", self.call_id,
                     greeting.answered_by.value, greeting.why, greeting.decided_ms)
            return False
        if greeting.text:
            log.info("call %s: callee answered with %r", self.call_id, greeting.text)
            self.run.note_greeting(greeting.text)
        return greeting.answered

    @property
    def screened(self) -> bool:
        """A machine or the network answered (at the greeting, or by a beep during the bot's first words)."""
        return self.greeting is not None and self.greeting.screened

    def _screen_late(self, frame: bytes) -> bool:
        """Feed a frame heard soon after a person's greeting to the greeting's screen: True when it now
        hears a voicemail's beep or the network's tones (the call is then no conversation)."""
        if self.greeting is None:
            return False
        late = self.greeting.later(frame)
        if late is None:
            return False
        self.greeting = late
        log.info("call %s: %s after all (%s), %d ms after the answer", self.call_id, late.answered_by.value,
                 late.why, late.decided_ms)
        return True

    def _listen_settings(self, step: Step) -> Listen:
        node = self.run.flow.nodes.get(step.node)
        return (node.listen if node is not None else None) or Listen()

    def _prompt_kind(self, step: Step) -> tuple[str | None, bool]:
        """Which of its node's prompts ``step.say`` is ("say" / "reprompt", None if neither) and whether
        it was filled in at call time ({order_id}: streamed sentence by sentence, not cached whole)."""
        node = self.run.flow.nodes.get(step.node)
        if node is None:
            return None, False
        for kind, template in (("say", node.say), ("reprompt", node.reprompt)):
            if template and template.format_map(self.run.vars) == step.say:
                return kind, "{" in template
        return None, False

    def _prompt_parts(self, step: Step) -> Generator[bytes, None, None]:
        """The prompt as line audio, in chunks: the first plays while the next renders."""
        if not step.say:
            return
        kind, templated = self._prompt_kind(step)
        yield from self.prompts.prompt_parts(Prompt(step.say, node=step.node, kind=kind, templated=templated))

    def _say(self, step: Step) -> list[bytes] | None:
        """Play the prompt. Returns the frames of a barge-in (the start of the customer's answer), [] when
        the prompt played to its end, None when the call ended."""
        barge = self.limits.barge_in and step.listen and step.barge_in
        ep = self.endpointer
        ep.begin_prompt()
        keep = PREROLL_FRAMES + max(1, ep.barge_in_min_ms // 20)
        heard: collections.deque[bytes] = collections.deque(maxlen=keep)
        self._mark("prompt_start", step.node)
        fetch = PromptPrefetch(self._prompt_parts(step), f"prompt-{self.call_id}")
        try:
            while True:
                item = fetch.get(timeout=0.0 if self.port.playing() else 0.005)
                if item is None:  # the next part is still rendering: keep listening meanwhile
                    pair = self._read(0.02)
                    if pair is not None and self._prompt_frame(pair, barge, heard):
                        return self._barged_in(step, heard)
                    if self.ended.is_set() or self._over_time():
                        self.port.flush_playback()
                        return None
                    if self._cut_for_closing() and step.event != "box_stopping":
                        self.port.flush_playback()
                        return []
                    if self._take_keys(step):
                        self.port.flush_playback()
                        self._mark("keys", step.node)
                        return []
                    continue
                what, value = item
                if what == "error":
                    raise value  # type: ignore[misc]
                if what == "end":
                    break
                if self._cut_for_closing() and step.event != "box_stopping":
                    self.port.flush_playback()
                    return []
                self.port.play(value, more=True)  # type: ignore[arg-type]
                self._reply_started()
                while (pair := self._read(0.0)) is not None:  # frames that came while it rendered
                    if self._prompt_frame(pair, barge, heard):
                        return self._barged_in(step, heard)
        finally:
            fetch.cancel()
            self._endpoint_at = None  # a prompt that played nothing is no reply to time
        self.port.play(b"")  # end of the prompt: pad and release the last partial frame
        while self.port.playing():
            if self.ended.is_set() or self._over_time():
                self.port.flush_playback()
                return None
            if self._cut_for_closing() and step.event != "box_stopping":
                self.port.flush_playback()
                break
            pair = self._read(0.1)
            if pair is not None and self._prompt_frame(pair, barge, heard):
                return self._barged_in(step, heard)
            if self._take_keys(step):  # a key stops the prompt too
                self.port.flush_playback()
                self._mark("keys", step.node)
                return []
        self._mark("prompt_end", step.node)
        return None if self.ended.is_set() else []

    def _prompt_frame(self, pair: tuple[bytes, bytes | None], barge: bool, heard: collections.deque[bytes]) -> bool:
        frame, played = pair
        if self._screen_late(frame):
            return True  # stops the prompt as a barge-in would; execute() sees ``screened``
        heard.append(frame)
        detected = self.endpointer.barge_in(frame, played)  # also keeps the echo guard's memory of the prompt
        return barge and detected

    def _barged_in(self, step: Step, heard: collections.deque[bytes]) -> list[bytes]:
        dropped = self.port.flush_playback()  # the prompt stops within one frame
        self._mark("barge_in", step.node)
        log.info("call %s: customer talked over the prompt (%s); %s frame(s) of it dropped",
                 self.call_id, step.node, dropped)
        return list(heard)

    def _take_keys(self, step: Step) -> bool:
        """Collect keys pressed so far if the step takes any; True when some are waiting."""
        if self.keys is None:
            return False
        wanted = step.listen and bool(step.dtmf)
        while (key := self.keys(0.0)) is not None:
            if wanted:
                self._pressed += key
            else:
                log.debug("call %s: key %r ignored, %s takes no keys", self.call_id, key, step.node)
        return bool(self._pressed)

    @staticmethod
    def _keys_done(step: Step, pressed: str, gap_ms: int) -> bool:
        """A menu choice ends with its key; a number with "#" or a pause of KEY_GAP_MS."""
        keys = set(step.dtmf)
        menu = not set("0123456789") <= keys
        return menu or "#" in pressed or gap_ms >= KEY_GAP_MS

    def _ask_partial(self, silence_ms: int, closed: bool) -> bool:
        """Whether to look at the partial transcript after ``silence_ms`` of a pause. Only while the silence
        grows, and only when the answer could change what it means: from ``complete_answer_silence_ms``
        every 100 ms on a closed node (the partial may lag the audio), and once, 100 ms before the
        end-of-utterance silence, for the unfinished-phrase check. Each look is a round trip to the
        recogniser (a worker process for PocketSphinx), so not every frame."""
        ep = self.endpointer
        if silence_ms <= 0 or silence_ms % PARTIAL_EVERY_MS:
            return False
        if closed and silence_ms >= ep.complete_answer_silence_ms:
            return True
        return silence_ms == max(PARTIAL_EVERY_MS, ep.end_silence_ms - PARTIAL_EVERY_MS)

    def _listen(self, step: Step, barged: list[bytes] | None = None) -> Utterance | KeyEntry | None:
        settings = self._listen_settings(step)
        grammar = list(step.grammar) if self.use_grammar and step.grammar and not settings.free_form else None
        # The flow's VUI rules, carried by the step: a long answer (always, or to a slot question; "unfinished"
        # alone only lengthens pauses after an unfinished phrase) and the node's own no-input time when it
        # differs from the flow default (else the box's [vui] silence_timeout_ms stands).
        long_ms = step.long_wait_ms
        when = step.long_wait_when
        long_answer = settings.long_answer or (long_ms > 0 and ("always" in when or "slot" in when))
        no_input_ms = step.no_input_ms or DEFAULT_NO_INPUT_MS
        complete = grammar if grammar and not long_answer else []  # answers that may end early
        session = self.asr.open_session(grammar)
        ep = self.endpointer
        ep.reset(long_answer=long_answer, long_wait_ms=long_ms or None,
                 silence_timeout_ms=no_input_ms if no_input_ms != DEFAULT_NO_INPUT_MS else None)
        preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        in_speech = False
        if barged:
            for f in barged:
                session.accept(f)
            ep.start_barged_in(max(ep.barge_in_ms, 20))
            in_speech = True
        key_gap_ms, keyed = 0, len(self._pressed)
        paused = False  # the session was told the customer paused (and not yet that they went on)
        while not self.ended.is_set() and not self._over_time() and not self._closing():
            if self._take_keys(step):
                if len(self._pressed) > keyed:
                    key_gap_ms, keyed = 0, len(self._pressed)
                if self._keys_done(step, self._pressed, key_gap_ms):
                    digits, self._pressed = self._pressed.split("#", 1)[0], ""
                    self._mark("keys", step.node)
                    session.cancel()
                    return KeyEntry(digits)
            pair = self._read(self.limits.frame_timeout_s)
            if pair is None:
                continue
            frame, played = pair
            if self._screen_late(frame):
                session.cancel()
                return None
            event = ep.feed(frame, played)
            if self._pressed:  # keying a number: the keys, not the voice, end this turn
                key_gap_ms += ep.frame_ms
                continue
            if in_speech:
                session.accept(frame)
            else:
                preroll.append(frame)
            if event is EndpointEvent.SPEECH_START and not in_speech:
                in_speech = True
                for f in preroll:
                    session.accept(f)
                preroll.clear()
            if event is None and in_speech and paused != (ep.silence_ms >= EARLY_DECODE_AFTER_MS):
                paused = not paused
                if paused:
                    session.pause()
                else:
                    session.resume()
            if event is None and in_speech and self._ask_partial(ep.silence_ms, bool(complete)):
                # a pause: does what was said so far end the answer sooner (a closed answer) or later
                # (it sounds unfinished)?
                partial = session.partial()
                wait_ms = ep.end_silence_for(partial, complete)
                log.debug("call %s: %d ms into a pause after %r: the turn ends after %d ms of silence",
                          self.call_id, ep.silence_ms, partial, wait_ms)
                event = ep.set_end_silence(wait_ms)
            if event in (EndpointEvent.SPEECH_END, EndpointEvent.MAX_LENGTH):
                self._mark("endpoint", step.node)
                self._endpoint_at = time.monotonic()
                heard = session.finish()
                self._mark("recognised", step.node)
                return heard
            if event is EndpointEvent.NO_INPUT:
                self._mark("no_input", step.node)
                session.cancel()
                return Utterance(text="", confidence=0.0)
        session.cancel()
        return None
