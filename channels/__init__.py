"""Messaging channels of the NPS bot: custom Rasa input channels.

Use them in credentials.yml by class path:

* ``channels.messenger.MessengerInput`` (name ``facebook``)
* ``channels.whatsapp.WhatsAppInput`` (name ``whatsapp``)
* ``channels.twilio_channel.TwilioInput`` (name ``twilio``)
* ``channels.webchat_socket.WebChatInput`` (name ``socketio``: Rasa's
  socket with server-issued ids and an Origin check; the page is in
  ``channels/webchat/``)
* ``channels.rest.RestInput`` (name ``rest``: Rasa's REST channel, keyed
  ``rest:<sender>``; local use and tests)

Every conversation is keyed ``<channel>:<platform id>`` (``nps.identity``),
and every ingress caps the text (``ingress``). Pure helpers: ``signatures``
(webhook HMACs), ``render`` (bot messages to platform payloads), ``dedup``
(ids of stored messages), ``outbound`` (one bounded send, classified).
``webhook_input`` is the request pipeline the three connectors share,
``turn`` runs a message's turn detached from its request and holds the
replies until it is stored, ``outbox`` keeps them until they are sent. See docs/channels.md.
"""

from channels import socketio_compat as _socketio_compat

# Rasa 3.6's socketio channel with python-socketio >= 5.10: see socketio_compat.
_socketio_compat.apply()
