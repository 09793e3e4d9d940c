"""Tests for the simulated payer and the clearinghouse adapters."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from eligibility.clearinghouse import (
    HttpClearinghouse,
    PayerError,
    PayerTimeout,
    PayerUnavailable,
    SimulatedClearinghouse,
    get_clearinghouse,
)
from eligibility.x12.envelope import iter_transactions, read_interchanges
from eligibility.x12.reader import X12Error
from eligibility.x12.simulator import SimulatedPayer
from eligibility.x12.x270 import Dependent, EligibilityRequest, Payer, Provider, Subscriber, build_270
from eligibility.x12.x271 import parse_271

WHEN = datetime(2025, 3, 13, 9, 30)


def request_270(
    member_id: str = "SIM000101", *, service_date: date = date(2025, 3, 14), dependent: bool = False
) -> str:
    request = EligibilityRequest(
        payer=Payer(name="Blue Heron Health", id="BHH01"),
        provider=Provider(name="Maple Grove Family Medicine", npi="1234567893"),
        subscriber=Subscriber(
            first_name="Avery", last_name="Quillfeather", member_id=member_id, birth_date=date(1980, 4, 2), gender="F"
        ),
        date_of_service=service_date,
        trace_number=f"TR-{member_id}",
    )
    if dependent:
        request = dataclasses.replace(
            request, dependent=Dependent(first_name="Rowan", last_name="Quillfeather", birth_date=date(2012, 6, 1))
        )
    return build_270(request, sender_id="VMAPORTAL", receiver_id="BHH01", when=WHEN, interchange_control_number=321)


def answer(member_id: str, **kwargs: object):
    result = SimulatedPayer().respond(request_270(member_id, **kwargs))  # type: ignore[arg-type]
    return result, parse_271(result.text) if result.text else []


# --- simulated payer ----------------------------------------------------------------------------


def test_active_answer_is_a_valid_271_echoing_the_request():
    result, [r] = answer("SIM000101")
    [interchange] = read_interchanges(result.text)  # strict envelopes: counts and control numbers
    assert (interchange.sender_id, interchange.receiver_id) == ("BHH01", "VMAPORTAL")
    assert interchange.control_number == "000000321"
    [tx] = list(iter_transactions([interchange]))
    assert (tx.set_id, tx.implementation) == ("271", "005010X279A1")
    assert int(tx.segments[-1].get(1)) == len(tx.segments)
    assert (r.trace_number, r.member_id, r.first_name, r.last_name) == (
        "TR-SIM000101",
        "SIM000101",
        "AVERY",
        "QUILLFEATHER",
    )
    assert r.birth_date == date(1980, 4, 2)
    assert (r.status, r.plan_begin, r.plan_end) == ("active", date(2025, 1, 1), None)
    assert (result.delay_seconds, result.timeout) == (0.0, False)


def test_active_answer_has_full_benefits():
    _, [r] = answer("SIM000101")
    s = r.summary()
    assert s.office_visit_copay in {Decimal(x) for x in ("15.00", "20.00", "25.00", "30.00", "35.00", "40.00", "50.00")}
    out_of_network = [b for b in r.benefits if b.code == "B" and b.in_network is False]
    assert out_of_network[0].amount == s.office_visit_copay * 2
    assert s.deductible_individual is not None and s.deductible_individual_remaining is not None
    assert Decimal(0) <= s.deductible_individual_remaining <= s.deductible_individual
    assert s.deductible_family == s.deductible_individual * 2
    assert s.deductible_family_remaining is not None and s.deductible_family_remaining <= s.deductible_family
    assert s.coinsurance_percent in {Decimal(10), Decimal(20), Decimal(30)}
    assert s.out_of_pocket_individual is not None and s.out_of_pocket_individual_remaining is not None
    assert Decimal(0) <= s.out_of_pocket_individual_remaining <= s.out_of_pocket_individual
    assert s.out_of_pocket_family == s.out_of_pocket_individual * 2
    assert s.out_of_pocket_family_remaining is not None
    assert s.in_network is True


def test_answers_are_deterministic_but_differ_between_members():
    assert (
        SimulatedPayer().respond(request_270("SIM000101")).text
        == SimulatedPayer().respond(request_270("SIM000101")).text
    )
    figures = set()
    for n in range(8):
        _, [r] = answer(f"SIM{n:03d}AB")  # "AB" is not a special ending: all active
        s = r.summary()
        figures.add((s.office_visit_copay, s.deductible_individual, s.coinsurance_percent))
    assert len(figures) > 3


@pytest.mark.parametrize(
    ("member_id", "reason", "follow_up", "loop", "message"),
    [
        ("SIM000172", "72", "C", "2100C", "Member ID invalid: correct and resubmit"),
        ("SIM000173", "73", "C", "2100C", "Subscriber name invalid: correct and resubmit"),
        ("SIM000175", "75", "C", "2100C", "Subscriber not found: correct and resubmit"),
        ("SIM000158", "58", "C", "2100C", "Date of birth invalid or missing: correct and resubmit"),
        ("SIM000142", "42", "R", "2100A", "Payer system unavailable: try again later"),
    ],
)
def test_rejection_cases(member_id, reason, follow_up, loop, message):
    _, [r] = answer(member_id)
    assert r.status == "rejected"
    assert r.benefits == []
    assert [(x.reason, x.follow_up, x.loop, x.message) for x in r.rejections] == [(reason, follow_up, loop, message)]
    assert r.trace_number == f"TR-{member_id}"


def test_inactive_case():
    _, [r] = answer("SIM000106")
    assert r.status == "inactive"
    assert (r.plan_begin, r.plan_end) == (date(2024, 1, 1), date(2024, 12, 31))
    assert [b.code for b in r.benefits] == ["6"]


@pytest.mark.parametrize(
    ("service_date", "plan_end"),
    [(date(2025, 9, 15), date(2025, 6, 30)), (date(2025, 3, 14), date(2025, 3, 13))],
)
def test_terminated_mid_year_case(service_date, plan_end):
    _, [r] = answer("SIM000107", service_date=service_date)
    assert r.status == "inactive"
    assert r.plan_begin == date(2025, 1, 1)
    assert r.plan_end == plan_end


def test_slow_case_is_active_after_three_seconds():
    result, [r] = answer("SIM000198")
    assert (result.delay_seconds, result.timeout) == (3.0, False)
    assert r.status == "active"


def test_timeout_case_has_no_text():
    result = SimulatedPayer().respond(request_270("SIM000199"))
    assert result.timeout is True
    assert result.text == ""


def test_dependent_request_is_answered_in_the_dependent_loop():
    _, responses = answer("SIM000101", dependent=True)
    assert [(r.role, r.first_name) for r in responses] == [("subscriber", "AVERY"), ("dependent", "ROWAN")]
    dep = responses[1]
    assert (dep.status, dep.trace_number, dep.member_id) == ("active", "TR-SIM000101", "SIM000101")
    assert dep.birth_date == date(2012, 6, 1)


def test_dependent_birth_date_rejection_is_at_2100d_and_source_rejection_reaches_everyone():
    _, responses = answer("SIM000158", dependent=True)
    assert [(r.role, r.status, [x.loop for x in r.rejections]) for r in responses] == [
        ("subscriber", "unknown", []),
        ("dependent", "rejected", ["2100D"]),
    ]
    _, responses = answer("SIM000142", dependent=True)
    assert [r.status for r in responses] == ["rejected", "rejected"]


def test_invalid_270_is_refused_with_x12error():
    with pytest.raises(X12Error, match="270 transaction 0001 is not valid"):
        SimulatedPayer().respond(request_270().replace("EQ*30~", "").replace("SE*13*0001", "SE*12*0001"))
    with pytest.raises(X12Error, match="does not start with an ISA"):
        SimulatedPayer().respond("hello")


# --- simulated clearinghouse --------------------------------------------------------------------


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_simulated_clearinghouse_returns_the_271_without_waiting():
    sleep = FakeSleep()
    text = SimulatedClearinghouse(sleep=sleep).send_270(request_270(), timeout=5)
    assert parse_271(text)[0].status == "active"
    assert sleep.calls == []


def test_simulated_clearinghouse_waits_for_a_slow_payer_within_the_timeout():
    sleep = FakeSleep()
    text = SimulatedClearinghouse(sleep=sleep).send_270(request_270("SIM000198"), timeout=10)
    assert sleep.calls == [3.0]
    assert parse_271(text)[0].status == "active"


def test_simulated_clearinghouse_times_out_when_the_payer_is_slower_than_the_timeout():
    sleep = FakeSleep()
    with pytest.raises(PayerTimeout):
        SimulatedClearinghouse(sleep=sleep).send_270(request_270("SIM000198"), timeout=1.5)
    assert sleep.calls == [1.5]


def test_simulated_clearinghouse_times_out_when_the_payer_never_answers():
    sleep = FakeSleep()
    with pytest.raises(PayerTimeout):
        SimulatedClearinghouse(sleep=sleep).send_270(request_270("SIM000199"), timeout=2)
    assert sleep.calls == [2]


def test_simulated_clearinghouse_turns_a_bad_270_into_payer_error():
    with pytest.raises(PayerError, match="270 rejected"):
        SimulatedClearinghouse(sleep=FakeSleep()).send_270("not x12", timeout=2)


def test_timeout_is_a_transient_error_and_payer_error_is_not():
    assert issubclass(PayerTimeout, PayerUnavailable)
    assert not issubclass(PayerError, PayerUnavailable)


# --- HTTP clearinghouse -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    status = 200
    delay = 0.0
    seen: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).seen.append(
            {
                "content_type": self.headers["Content-Type"],
                "authorization": self.headers["Authorization"],
                "body": self.rfile.read(length).decode("ascii"),
            }
        )
        time.sleep(type(self).delay)
        body = (
            SimulatedPayer().respond(type(self).seen[-1]["body"]).text.encode("ascii")
            if self.status == 200
            else b"nope"
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/EDI-X12")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up, which is the point of the time-out test

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"status": 200, "delay": 0.0, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/270", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_clearinghouse_posts_edi_x12_and_returns_the_body(server):
    url, handler = server
    text = HttpClearinghouse(url, "k-123").send_270(request_270(), timeout=5)
    assert parse_271(text)[0].trace_number == "TR-SIM000101"
    [seen] = handler.seen
    assert seen["content_type"] == "application/EDI-X12"
    assert seen["authorization"] == "Bearer k-123"
    assert seen["body"] == request_270()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, PayerUnavailable),
        (500, PayerUnavailable),
        (429, PayerUnavailable),
        (504, PayerTimeout),
        (400, PayerError),
        (401, PayerError),
    ],
)
def test_http_clearinghouse_maps_http_status(server, status, error):
    url, handler = server
    handler.status = status
    with pytest.raises(error, match=f"HTTP {status}") as caught:
        HttpClearinghouse(url, "secret-key").send_270(request_270(), timeout=5)
    assert "secret-key" not in str(caught.value)


def test_http_clearinghouse_times_out(server):
    url, handler = server
    handler.delay = 1.0
    with pytest.raises(PayerTimeout):
        HttpClearinghouse(url, "k").send_270(request_270(), timeout=0.2)


def test_http_clearinghouse_unreachable_is_unavailable():
    with pytest.raises(PayerUnavailable) as caught:
        HttpClearinghouse("http://127.0.0.1:9/270", "k").send_270(request_270(), timeout=2)
    assert not isinstance(caught.value, PayerTimeout)


def test_http_clearinghouse_requires_https_except_locally():
    with pytest.raises(ImproperlyConfigured, match="https"):
        HttpClearinghouse("http://clearinghouse.example.com/270", "k")
    assert HttpClearinghouse("https://clearinghouse.example.com/270", "k").url.startswith("https://")


# --- choosing the adapter -----------------------------------------------------------------------


def test_get_clearinghouse_defaults_to_simulated_without_settings(settings):
    for name in ("ELIGIBILITY_CLEARINGHOUSE", "ELIGIBILITY_CLEARINGHOUSE_URL", "ELIGIBILITY_CLEARINGHOUSE_API_KEY"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert isinstance(get_clearinghouse(), SimulatedClearinghouse)


def test_get_clearinghouse_http(settings):
    settings.ELIGIBILITY_CLEARINGHOUSE = "http"
    settings.ELIGIBILITY_CLEARINGHOUSE_URL = "https://clearinghouse.example.com/270"
    settings.ELIGIBILITY_CLEARINGHOUSE_API_KEY = "k"
    adapter = get_clearinghouse()
    assert isinstance(adapter, HttpClearinghouse)
    assert adapter.url == "https://clearinghouse.example.com/270"


def test_get_clearinghouse_refuses_bad_configuration(settings):
    settings.ELIGIBILITY_CLEARINGHOUSE = "http"
    settings.ELIGIBILITY_CLEARINGHOUSE_URL = ""
    with pytest.raises(ImproperlyConfigured, match="ELIGIBILITY_CLEARINGHOUSE_URL"):
        get_clearinghouse()
    settings.ELIGIBILITY_CLEARINGHOUSE = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="'simulated' or 'http'"):
        get_clearinghouse()
