# Messaging channels: Messenger, WhatsApp Cloud, Twilio, web chat.
# Included by the top Makefile (which defines BOT_PY, BOT_STAMP and MODEL).
# See docs/channels.md.

CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
# apt-get needs root; CI runs as root, a developer's machine may need sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: browser test-channels test-channels-fast webchat

# Debian's Chromium and ChromeDriver for the web chat's browser test; installed
# only when missing (the test suite never downloads a browser of its own).
browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then \
		echo "chromium and chromedriver present"; \
	else \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver; \
	fi

# Everything: pure unit tests, webhooks posted to a real `rasa run`, the web
# chat in headless Chromium, and a full survey per channel with the real bot
# (which is why the trained model is a prerequisite).
test-channels: $(BOT_STAMP) $(MODEL) browser
	$(BOT_PY) -m pytest tests/channels -q -p no:cacheprovider

# Seconds, no browser, no Rasa process: signatures, rendering, parsing, retries.
test-channels-fast: $(BOT_STAMP)
	$(BOT_PY) -m pytest tests/channels -q -p no:cacheprovider -m "not rasa"

# The embeddable chat page on http://$(NPS_HOST):$(WEBCHAT_PORT)/index.html,
# talking to the bot of `make run` (Rasa on 127.0.0.1:5005).
webchat: $(BOT_STAMP)
	$(BOT_PY) -m channels.webchat --host $(NPS_HOST) --port $(WEBCHAT_PORT)
