"""Clearinghouse adapters: send a 270 and get the 271 back, from a simulator or over HTTPS."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .x12.reader import X12Error
from .x12.simulator import SimulatedPayer

X12_CONTENT_TYPE = "application/EDI-X12"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class ClearinghouseError(Exception):
    """Base class: the 270 could not be answered."""


class PayerError(ClearinghouseError):
    """The clearinghouse or payer refused the request; sending it again will not help."""


class PayerUnavailable(ClearinghouseError):
    """Transient: the payer or clearinghouse is down or overloaded; retry later."""


class PayerTimeout(PayerUnavailable):
    """Transient: no answer within the timeout; retry later."""


class Clearinghouse(Protocol):
    """Anything that can deliver a 270 and return the payer's 271 text."""

    def send_270(self, text: str, *, timeout: float) -> str: ...


class SimulatedClearinghouse:
    """Answers through SimulatedPayer, with its delays and time-outs played out for real."""

    def __init__(self, payer: SimulatedPayer | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.payer = payer or SimulatedPayer()
        self.sleep = sleep  # injectable so tests need not wait

    def send_270(self, text: str, *, timeout: float) -> str:
        try:
            answer = self.payer.respond(text)
        except X12Error as exc:
            # A real clearinghouse rejects an unreadable 270 (999/TA1); resending will not help.
            raise PayerError(f"270 rejected: {exc}") from exc
        if answer.delay_seconds > 0:
            self.sleep(min(answer.delay_seconds, timeout))
        if answer.timeout or answer.delay_seconds > timeout:
            raise PayerTimeout(f"payer did not answer within {timeout:g} s")
        return answer.text


class HttpClearinghouse:
    """POSTs the 270 as application/EDI-X12 to a clearinghouse's real-time endpoint."""

    def __init__(self, url: str, api_key: str, *, user_agent: str = "VMA-Portal/1.0") -> None:
        parts = urlsplit(url)
        # The 270 carries PHI: plain HTTP is only acceptable to a local test server.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
            raise ImproperlyConfigured(f"clearinghouse URL must use https (got {parts.scheme or 'no'} scheme)")
        self.url = url
        self.api_key = api_key
        self.user_agent = user_agent

    def send_270(self, text: str, *, timeout: float) -> str:
        try:
            payload = text.encode("ascii")
        except UnicodeEncodeError:
            raise PayerError("270 contains non-ASCII characters") from None
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": X12_CONTENT_TYPE,
                "Accept": X12_CONTENT_TYPE,
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": self.user_agent,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body: bytes = response.read()
                charset = response.headers.get_content_charset() or "utf-8"
        except urllib.error.HTTPError as exc:
            # Never put the API key or the 270 (PHI) into the message: it ends up in logs.
            message = f"clearinghouse answered HTTP {exc.code}"
            if exc.code in (408, 504):
                raise PayerTimeout(message) from None
            if exc.code >= 500 or exc.code == 429:
                raise PayerUnavailable(message) from None
            raise PayerError(message) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise PayerTimeout(f"no answer within {timeout:g} s") from None
            raise PayerUnavailable(f"cannot reach the clearinghouse: {exc.reason}") from None
        except TimeoutError:
            raise PayerTimeout(f"no answer within {timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise PayerUnavailable(f"connection to the clearinghouse failed: {exc}") from None
        text_271 = body.decode(charset, errors="replace")
        if not text_271.strip():
            raise PayerUnavailable("clearinghouse answered with an empty body")
        return text_271


def get_clearinghouse() -> Clearinghouse:
    """The adapter chosen by settings.ELIGIBILITY_CLEARINGHOUSE ("simulated" or "http")."""
    kind = getattr(settings, "ELIGIBILITY_CLEARINGHOUSE", "simulated") or "simulated"
    if kind == "simulated":
        return SimulatedClearinghouse()
    if kind == "http":
        url = getattr(settings, "ELIGIBILITY_CLEARINGHOUSE_URL", "")
        api_key = getattr(settings, "ELIGIBILITY_CLEARINGHOUSE_API_KEY", "")
        if not url or not api_key:
            raise ImproperlyConfigured(
                "ELIGIBILITY_CLEARINGHOUSE=http needs ELIGIBILITY_CLEARINGHOUSE_URL and "
                "ELIGIBILITY_CLEARINGHOUSE_API_KEY"
            )
        return HttpClearinghouse(url, api_key)
    raise ImproperlyConfigured(f"ELIGIBILITY_CLEARINGHOUSE must be 'simulated' or 'http', got {kind!r}")
