# The trainers' loop: the inbox of what the bot did not understand.
# Included by the top Makefile, which sets NPS_DB_URL (from nps/settings.py);
# PY_ANALYTICS and ANALYTICS_STAMP come from mk/analytics.mk. See
# docs/trainers.md, "The inbox".

.PHONY: inbox

# data/inbox/<date>.yml since the last export (var/inbox.json); pass
# SINCE_EVENT_ID=N to start after another event. Rasa never trains on it.
inbox: $(ANALYTICS_STAMP) | var
	$(PY_ANALYTICS) -m analytics.inbox --db "$(NPS_DB_URL)" \
		$(if $(SINCE_EVENT_ID),--since-event-id $(SINCE_EVENT_ID))
