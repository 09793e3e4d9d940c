"""Claim clearinghouse adapters: hand over an 837P, get the acknowledgement (accepted or rejected, why).

Two implementations, chosen by settings.BILLING_CLEARINGHOUSE: a simulated clearinghouse for the demo
and tests (its answer is decided by the subscriber's member id, so every case can be reached), and
an HTTPS adapter for a real one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from eligibility.x12.envelope import iter_transactions, read_interchanges
from eligibility.x12.reader import X12Error

X12_CONTENT_TYPE = "application/EDI-X12"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
REJECT_PREFIX = "REJ"  # simulated: member ids starting so are rejected (subscriber not found)
UNAVAILABLE_PREFIX = "DOWN"  # simulated: the clearinghouse is down for these (transient)


class ClearinghouseError(Exception):
    """Base class: the 837 could not be handed over."""


class ClearinghouseUnavailable(ClearinghouseError):
    """Transient: down, overloaded or timed out; nothing was taken, send again later."""


@dataclass(frozen=True)
class Acknowledgement:
    """What the clearinghouse said about one 837: accepted (with its reference) or rejected with reasons."""

    accepted: bool
    reference: str = ""
    reasons: list[str] = field(default_factory=list)
    raw: str = ""


@dataclass(frozen=True)
class RemittanceDocument:
    """One 835 file the clearinghouse has for us."""

    name: str
    content: str


class Clearinghouse(Protocol):
    def submit_837(self, text: str, *, timeout: float) -> Acknowledgement: ...

    def fetch_835s(self, *, now: datetime, timeout: float) -> list[RemittanceDocument]: ...


def _ack(accepted: bool, reference: str, reasons: list[str]) -> Acknowledgement:
    raw = json.dumps({"status": "accepted" if accepted else "rejected", "reference": reference, "reasons": reasons})
    return Acknowledgement(accepted=accepted, reference=reference, reasons=reasons, raw=raw)


class SimulatedClearinghouse:
    """Reads the 837 like a clearinghouse's front-end edits and answers at once.

    Member id starting REJ: rejected (subscriber not found); DOWN: unavailable; otherwise accepted.
    """

    def submit_837(self, text: str, *, timeout: float) -> Acknowledgement:
        try:
            transactions = list(iter_transactions(read_interchanges(text)))
        except X12Error as exc:
            return _ack(False, "", [f"The file could not be read: {exc}"])
        acks: list[Acknowledgement] = []
        for tx in transactions:
            member = next((s.get(9) for s in tx.segments if s.id == "NM1" and s.get(1) == "IL"), "")
            pcn = next((s.get(1) for s in tx.segments if s.id == "CLM"), "")
            if member.upper().startswith(UNAVAILABLE_PREFIX):
                raise ClearinghouseUnavailable("simulated clearinghouse is down")
            if member.upper().startswith(REJECT_PREFIX):
                acks.append(
                    _ack(
                        False,
                        f"SIM-{tx.control_number}",
                        [
                            f"Claim {pcn}: subscriber {member} not found at the payer (A7:33): check the member id "
                            "on the insurance card and resubmit."
                        ],
                    )
                )
            else:
                acks.append(_ack(True, f"SIM-{pcn}", []))
        if not acks:
            return _ack(False, "", ["The file holds no 837 transaction."])
        return acks[0]

    def fetch_835s(self, *, now: datetime, timeout: float) -> list[RemittanceDocument]:
        """The payer's answers to claims it accepted at least BILLING_SIM_ADJUDICATION_DAYS (3) ago: real 835s.

        The simulated payer decides by member id, like the acknowledgements: DEN<carc> denies every line
        (CO-<carc>, 16 when no digits), UND allows 10 % under the fee schedule, anything else allows the fee
        schedule (80 % of the charge when the code has none) with 20 % coinsurance. One file per payer and
        day; built the same way for the same claims, so fetching twice yields the same bytes (posted once).
        """
        from .simulated_payer import remittances_due

        return remittances_due(now=now)


class HttpClearinghouse:
    """POSTs the 837 as application/EDI-X12; the clearinghouse answers JSON {status, reference, reasons}."""

    def __init__(self, url: str, api_key: str, *, user_agent: str = "VMA-Portal/1.0") -> None:
        parts = urlsplit(url)
        # The 837 carries PHI: plain HTTP only to a local test server.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
            raise ImproperlyConfigured(f"clearinghouse URL must use https (got {parts.scheme or 'no'} scheme)")
        self.url = url
        self.api_key = api_key
        self.user_agent = user_agent

    def submit_837(self, text: str, *, timeout: float) -> Acknowledgement:
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url,
            data=text.encode("ascii", errors="replace"),
            method="POST",
            headers={
                "Content-Type": X12_CONTENT_TYPE,
                "Accept": "application/json",
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": self.user_agent,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body: bytes = response.read()
        except urllib.error.HTTPError as exc:
            # Never log the key or the 837 (PHI).
            if exc.code >= 500 or exc.code in (408, 429):
                raise ClearinghouseUnavailable(f"clearinghouse answered HTTP {exc.code}") from None
            return _ack(False, "", [f"The clearinghouse refused the file (HTTP {exc.code})."])
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ClearinghouseUnavailable(f"cannot reach the clearinghouse: {exc}") from None
        try:
            data = json.loads(body.decode("utf-8"))
            accepted = data["status"] == "accepted"
            reasons = [str(r) for r in data.get("reasons", [])]
            reference = str(data.get("reference", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ClearinghouseUnavailable("the clearinghouse's answer could not be read") from None
        return Acknowledgement(accepted=accepted, reference=reference, reasons=reasons, raw=body.decode("utf-8"))

    def fetch_835s(self, *, now: datetime, timeout: float) -> list[RemittanceDocument]:
        """GET the ERA mailbox (BILLING_CLEARINGHOUSE_ERA_URL): JSON {"files": [{"name", "content"}]}.

        Not configured: nothing to fetch. The clearinghouse keeps a file until we import it, so a
        failed fetch loses nothing (the next run asks again) and a repeated file is posted once.
        """
        url = getattr(settings, "BILLING_CLEARINGHOUSE_ERA_URL", "")
        if not url:
            return []
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
            raise ImproperlyConfigured(f"ERA URL must use https (got {parts.scheme or 'no'} scheme)")
        query = urlencode({"since": (now - timedelta(days=7)).isoformat()})
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            f"{url}?{query}",
            method="GET",
            headers={
                "Accept": "application/json",
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": self.user_agent,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                data = json.loads(response.read().decode("utf-8"))
            return [RemittanceDocument(str(f.get("name", "")), str(f["content"])) for f in data["files"]]
        except urllib.error.HTTPError as exc:
            raise ClearinghouseUnavailable(f"ERA mailbox answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ClearinghouseUnavailable(f"cannot reach the ERA mailbox: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ClearinghouseUnavailable("the ERA mailbox's answer could not be read") from None


def get_clearinghouse() -> Clearinghouse:
    kind = getattr(settings, "BILLING_CLEARINGHOUSE", "simulated") or "simulated"
    if kind == "simulated":
        return SimulatedClearinghouse()
    if kind == "http":
        url = getattr(settings, "BILLING_CLEARINGHOUSE_URL", "")
        api_key = getattr(settings, "BILLING_CLEARINGHOUSE_API_KEY", "")
        if not url or not api_key:
            raise ImproperlyConfigured("BILLING_CLEARINGHOUSE=http needs BILLING_CLEARINGHOUSE_URL and _API_KEY")
        return HttpClearinghouse(url, api_key)
    raise ImproperlyConfigured(f"BILLING_CLEARINGHOUSE must be 'simulated' or 'http', got {kind!r}")
