"""Messaging channels of the NPS bot: custom Rasa input channels.

Use them in credentials.yml by class path:

* ``channels.messenger.MessengerInput`` (name ``facebook``)
* ``channels.whatsapp.WhatsAppInput`` (name ``whatsapp``)
* ``channels.twilio_channel.TwilioInput`` (name ``twilio``)

plus Rasa's own ``socketio`` (the web chat in ``channels/webchat/``) and
``rest``. Pure helpers: ``signatures`` (webhook HMACs), ``render`` (bot
messages to platform payloads), ``dedup`` (seen ids), ``outbound`` (HTTP with
timeouts and retries); ``webhook_input`` is the request pipeline the three
connectors share. See docs/channels.md.
"""

from channels import socketio_compat as _socketio_compat

# Rasa 3.6's socketio channel with python-socketio >= 5.10: see socketio_compat.
_socketio_compat.apply()
