"""The simulated modem and customers on their own: dialect, WAV loading, customer turns."""

from __future__ import annotations

import io
import threading
import wave
from contextlib import redirect_stdout

import numpy as np
import pytest
from tel_helpers import wait_until

from appliance.errors import AtCommandError
from appliance.events import FRAME_BYTES
from appliance.sim.customer import CustomerScript, CustomerVoice, frame_rms, load_pcm
from appliance.sim.run import default_directory, run_sim_modem
from appliance.telephony.at import AtChannel


def test_tel_sim_speaks_the_huawei_dialect(make_sim):
    sim = make_sim()
    urcs: list[str] = []
    prefixes = ("^ORIG", "^CONF", "^CONN", "^CEND")
    channel = AtChannel(sim.at_port, on_urc=urcs.append, default_timeout=1.0, urc_prefixes=prefixes)
    channel.open()
    try:
        assert channel.command("ATE0") == []
        assert channel.command("AT^CVOICE?") == ["^CVOICE:0,8000,16,20"]
        assert channel.command("AT+CPIN?") == ["+CPIN: READY"]
        assert channel.command("AT+CSQ") == ["+CSQ: 20,99"]
        assert channel.command("AT+CREG?") == ["+CREG: 0,1"]
        assert channel.command("AT+COPS?")[0].startswith("+COPS: 0,0,")
        with pytest.raises(AtCommandError):
            channel.command("AT+FOO")
        with pytest.raises(AtCommandError):
            channel.command("AT^DDSETEX=2")  # no call, no audio
        assert channel.command("ATD5550;") == []
        wait_until(lambda: "^CONN:1,0" in urcs, 2.0, "^CONN")
        assert urcs == ["^ORIG:1,0", "^CONF:1", "^CONN:1,0"]
        with pytest.raises(AtCommandError) as info:
            channel.command("ATD5550;")  # one call at a time
        assert info.value.result == "+CME ERROR: 3"
        assert channel.command("AT+CLCC") == ['+CLCC: 1,0,0,0,0,"5550",129']
        assert channel.command("AT+CHUP") == []
        assert sim.calls[-1].ended.wait(1)
        wait_until(lambda: urcs[-1].startswith("^CEND:"), 1.0, "^CEND")
        assert urcs[-1].startswith("^CEND:1,") and urcs[-1].endswith(",104,16")
    finally:
        channel.close()


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(8000, 1, 2), (16000, 2, 2), (44100, 1, 1), (22050, 2, 4)]
)
def test_tel_sim_load_pcm_converts_any_wav_to_8k_mono(tmp_path, rate, channels, width):
    t = np.arange(rate // 2) / rate  # 500 ms
    x = np.sin(2 * np.pi * 400 * t) * 0.5
    if width == 1:
        data = ((x + 1) * 127.5).astype(np.uint8)
    else:
        data = (x * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}")
    if channels == 2:
        data = np.repeat(data, 2)
    path = tmp_path / "r.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    pcm = np.frombuffer(load_pcm(path), dtype="<i2")
    assert abs(len(pcm) - 4000) <= 2
    rms = float(np.sqrt(np.mean((pcm / 32768.0) ** 2)))
    assert 0.33 < rms < 0.37  # a 0.5-amplitude sine: 0.354


def bot(ms: int, loud: bool) -> list[bytes]:
    frame = (np.full(FRAME_BYTES // 2, 3000 if loud else 0, dtype="<i2")).tobytes()
    return [frame] * (ms // 20)


def run_ticks(voice: CustomerVoice, frames: list[bytes]) -> list[bytes]:
    out = []
    for f in frames:
        voice.hear(f)
        out.append(voice.speak())
    return out


def test_tel_sim_customer_waits_for_end_of_prompt_then_replies():
    reply = np.full(FRAME_BYTES // 2 * 10, 5000, dtype="<i2").tobytes()  # 200 ms
    script = CustomerScript("answer", prompt_end_ms=600, reply_gap_ms=300)
    voice = CustomerVoice(script, [("yes", reply)])
    out = run_ticks(voice, bot(1000, True) + bot(880, False))
    assert not any(frame_rms(f) > 0 for f in out)  # silent while the bot talks and for 880 ms after
    out = run_ticks(voice, bot(40, False) + bot(400, False))
    voiced = [i for i, f in enumerate(out) if frame_rms(f) > 1000]
    assert voiced[0] in (0, 1) and len(voiced) == 10  # spoke at 900 ms of quiet, for 200 ms
    assert voice.said == ["yes"]
    out = run_ticks(voice, bot(500, True) + bot(2000, False))  # replies ran out: silence
    assert not any(frame_rms(f) > 0 for f in out) and not voice.wants_hangup


def test_tel_sim_silent_and_mid_sentence_customers():
    reply = np.full(FRAME_BYTES // 2 * 20, 5000, dtype="<i2").tobytes()  # 400 ms
    silent = CustomerVoice(CustomerScript("silent"), [("yes", reply)])
    assert not any(frame_rms(f) > 0 for f in run_ticks(silent, bot(500, True) + bot(2000, False)))
    quitter = CustomerVoice(CustomerScript("hangup_mid_sentence", reply_gap_ms=0), [("yes", reply)])
    out = run_ticks(quitter, bot(500, True) + bot(1500, False))
    assert quitter.wants_hangup and sum(frame_rms(f) > 1000 for f in out) == 10
    mute = CustomerVoice(CustomerScript("hangup_mid_sentence", reply_gap_ms=0), [])
    run_ticks(mute, bot(500, True) + bot(700, False))
    assert mute.wants_hangup
    with pytest.raises(ValueError):
        CustomerScript("dance")


def test_tel_sim_machines_play_their_greeting_answer_nothing_and_the_network_hangs_up():
    for kind in ("voicemail", "sit", "announcement"):
        script = CustomerScript(kind)
        assert script.greeting is not None and script.greeting.is_file() and script.replies == []
        pcm = load_pcm(script.greeting)
        voice = CustomerVoice(script, [], (script.greeting.stem, pcm))
        ticks = len(pcm) // FRAME_BYTES + 20
        out = run_ticks(voice, bot(ticks * 20 // 2, True) + bot(ticks * 20 // 2, False) + bot(4000, False))
        played = b"".join(out)
        assert pcm in played  # its greeting, whole, whatever the bot said meanwhile
        assert voice.said == [script.greeting.stem]  # and nothing else
        assert voice.wants_hangup is (kind != "voicemail")  # a voicemail records until the caller hangs up


def test_tel_sim_default_directory_and_cli_entry(tmp_path):
    assert [default_directory(f"+4930555{d}", voices_dir=tmp_path).behaviour for d in "0123456789"] == [
        "answer", "busy", "no_answer", "reject", "silent", "hangup_mid_sentence", "answer", "voicemail", "sit",
        "announcement"]
    stop = threading.Event()
    out = io.StringIO()
    with redirect_stdout(out):
        runner = threading.Thread(target=run_sim_modem, args=(["--ring-ms", "100"],), kwargs={"stop": stop})
        runner.start()
        wait_until(lambda: "audio port:" in out.getvalue(), 2.0, "the ports printed")
    text = out.getvalue()
    at_port = text.split("AT port:", 1)[1].split()[0]
    assert "/dev/pts/" in at_port and "audio port: /dev/pts/" in text
    channel = AtChannel(at_port, default_timeout=1.0)
    channel.open()
    try:
        assert channel.command("AT^CVOICE?") == ["^CVOICE:0,8000,16,20"]
    finally:
        channel.close()
        stop.set()
        runner.join(3)
    assert not runner.is_alive()


def test_tel_sim_customer_greets_first_then_answers_prompts():
    hello = np.full(FRAME_BYTES // 2 * 5, 5000, dtype="<i2").tobytes()  # 100 ms
    reply = np.full(FRAME_BYTES // 2 * 10, 5000, dtype="<i2").tobytes()  # 200 ms
    script = CustomerScript("answer", greeting_delay_ms=100, prompt_end_ms=200, reply_gap_ms=0)
    voice = CustomerVoice(script, [("yes", reply)], ("hello", hello))
    out = run_ticks(voice, bot(400, False))  # the bot waits for the callee's voice
    voiced = [i for i, f in enumerate(out) if frame_rms(f) > 1000]
    assert voiced == [4, 5, 6, 7, 8] and voice.said == ["hello"]
    out = run_ticks(voice, bot(300, True) + bot(600, False))
    assert sum(frame_rms(f) > 1000 for f in out) == 10 and voice.said == ["hello", "yes"]
    silent = CustomerVoice(CustomerScript("silent", greeting_delay_ms=0), [], ("hello", hello))
    assert not any(frame_rms(f) > 0 for f in run_ticks(silent, bot(400, False)))


def test_tel_sim_default_directory_uses_the_voices_folder(tmp_path):
    for name in ("en_hello", "en_confirm", "en_confirm_2", "en_reschedule"):
        (tmp_path / f"{name}.wav").touch()
    confirm = default_directory("5550", voices_dir=tmp_path)
    assert confirm.greeting == tmp_path / "en_hello.wav"
    assert [p.stem for p in confirm.replies] == ["en_confirm", "en_confirm_2"]
    assert [p.stem for p in default_directory("5556", voices_dir=tmp_path).replies] == ["en_reschedule"]
