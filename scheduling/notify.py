"""Reminder channels: SMS and voice adapters (a setting picks the class), email through Django's mail."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class NotifyError(Exception):
    """The channel could not deliver (the provider refused, timed out, or the number is bad)."""


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> str:
        """Send a text; return a line for the reminder's log (e.g. the carrier's message id)."""
        ...


class VoiceBackend(Protocol):
    def call(self, to: str, script: str) -> str:
        """Place an automated call reading the script; return a line for the reminder's log."""
        ...


class ConsoleSms:
    """The demo's SMS: logs the text instead of sending it."""

    def send(self, to: str, body: str) -> str:
        line = f"SMS to {to}: {body}"
        log.info("%s", line)
        return line


class ConsoleVoice:
    """The demo's voice calls: logs the script instead of calling."""

    def call(self, to: str, script: str) -> str:
        line = f"Call to {to}: {script}"
        log.info("%s", line)
        return line


def sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


def voice_backend() -> VoiceBackend:
    return import_string(settings.VOICE_BACKEND)()
