"""AR and denial figures for the practice manager, computed in the database (a fixed number of queries).

Definitions (a practice reads them this way; the page says so too):
- AR: claims billed and not settled (submitted, accepted, rejected, partially paid, denied, appealed)
  with an insurance balance left: charge - paid - contractual adjustments - written off - moved to
  the patient. Denied amounts stay in AR until appealed and paid, corrected, or written off.
- Aging buckets count days from the date of service: 0-30, 31-60, 61-90, 91-120, 120+ (over 120).
- Days in AR: AR today / average daily charges billed over the last 90 days of service.
- Denial rate: of the claims first adjudicated in the period, the share with a denial (claim or line).
- Clean-claim rate: of the claims submitted in the period, the share never rejected by the clearinghouse.
- Net collection rate: for claims with a date of service in the period, (payer payments + patient
  payments) / (charges - contractual adjustments).
Every figure covers the claims of the care teams the user is on (the same scope as the claim list
its cells drill down to, so a cell's count is the number of claims the drill-down shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from vma.access import patient_scope_q
from vma.models import User

from . import carc
from .denials import CATEGORIES
from .models import AR_STATUSES_LIST, NOT_BILLED_LIST, Claim, Denial

DASHBOARD = "billing.view_revenue_dashboard"
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)
# slug, label, fewest days, most days (None: no limit)
BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("0_30", "0–30", 0, 30),
    ("31_60", "31–60", 31, 60),
    ("61_90", "61–90", 61, 90),
    ("91_120", "91–120", 91, 120),
    ("120_plus", "120+", 121, None),
)
BUCKET_SLUGS = tuple(b[0] for b in BUCKETS)
PERIODS = (30, 90, 180, 365)


def _zero(value: Any) -> Any:
    return Coalesce(value, Value(ZERO), output_field=MONEY)


BALANCE = ExpressionWrapper(
    F("total_charge")
    - _zero(F("paid_amount"))
    - F("contractual_adjustment")
    - F("written_off")
    - F("patient_responsibility"),
    output_field=MONEY,
)


def scoped_claims(user: User) -> QuerySet[Claim]:
    """Claims whose figures the user may read: dashboard permission, the user's care teams."""
    if not user.is_authenticated or not user.has_perm(DASHBOARD):
        return Claim.objects.none()
    return Claim.objects.filter(patient_scope_q(user))


def bucket_q(slug: str, today: date) -> Q:
    """Claims whose date of service puts them in the bucket on `today`."""
    for key, _label, low, high in BUCKETS:
        if key == slug:
            q = Q(service_date__lte=today - timedelta(days=low))
            if high is not None:
                q &= Q(service_date__gte=today - timedelta(days=high))
            return q
    raise ValueError(f"unknown AR bucket {slug!r}")


def ar_claims(qs: QuerySet[Claim]) -> QuerySet[Claim]:
    """The AR subset: billed, not settled, with a balance."""
    return qs.filter(status__in=AR_STATUSES_LIST).annotate(ar_balance=BALANCE).filter(ar_balance__gt=0)


def period(today: date, days: int) -> tuple[date, date, datetime, datetime]:
    """(first day, last day, start, end) of the `days` ending today, as dates and aware datetimes."""
    since = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(since, time.min))
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    return since, today, start, end


@dataclass
class AgingRow:
    payer_id: str
    payer_name: str
    cells: list[tuple[Decimal, int]]  # per bucket: (balance, claims)
    total: Decimal = ZERO
    count: int = 0


def ar_aging(user: User, today: date) -> tuple[list[AgingRow], AgingRow]:
    """AR by payer and bucket (one grouped query) and the totals row."""
    aggregates: dict[str, Any] = {}
    for slug, *_ in BUCKETS:
        q = bucket_q(slug, today)
        aggregates[f"a_{slug}"] = _zero(Sum("ar_balance", filter=q))
        aggregates[f"n_{slug}"] = Count("id", filter=q)
    rows = (
        ar_claims(scoped_claims(user))
        .values("payer__payer_id", "payer__name")
        .annotate(**aggregates, total=_zero(Sum("ar_balance")), n=Count("id"))
        .order_by("-total", "payer__name")
    )
    found: list[dict[str, Any]] = [dict(r) for r in rows]
    out = [
        AgingRow(
            payer_id=r["payer__payer_id"],
            payer_name=r["payer__name"],
            cells=[(r[f"a_{s}"], r[f"n_{s}"]) for s in BUCKET_SLUGS],
            total=r["total"],
            count=r["n"],
        )
        for r in found
    ]
    totals = AgingRow(
        payer_id="",
        payer_name="All payers",
        cells=[
            (sum((row.cells[i][0] for row in out), ZERO), sum(row.cells[i][1] for row in out))
            for i in range(len(BUCKETS))
        ],
        total=sum((row.total for row in out), ZERO),
        count=sum(row.count for row in out),
    )
    return out, totals


def _rate(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class Summary:
    ar_total: Decimal
    ar_claims: int
    charges_90: Decimal
    days_in_ar: Decimal | None
    adjudicated: int
    denied: int
    denial_rate: Decimal | None
    submitted: int
    clean: int
    clean_claim_rate: Decimal | None
    collected: Decimal
    collectible: Decimal
    net_collection_rate: Decimal | None


def summary(user: User, today: date, days: int, totals: AgingRow) -> Summary:
    """Days in AR, denial, clean-claim and net collection rates (three aggregate queries, each on its index)."""
    qs = scoped_claims(user)
    since, _until, start, end = period(today, days)
    billed = qs.exclude(status__in=NOT_BILLED_LIST)
    # One range scan of billed claims by date of service serves both windows (the last 90 days and the period).
    window = Q(service_date__gte=since, service_date__lte=today)
    last_90 = Q(service_date__gt=today - timedelta(days=90), service_date__lte=today)
    dos = billed.filter(service_date__gte=min(since, today - timedelta(days=89)), service_date__lte=today).aggregate(
        charges_90=_zero(Sum("total_charge", filter=last_90)),
        paid=_zero(Sum("paid_amount", filter=window)),
        patient_paid=_zero(Sum("patient_paid", filter=window)),
        charges=_zero(Sum("total_charge", filter=window)),
        contractual=_zero(Sum("contractual_adjustment", filter=window)),
    )
    charges_90 = dos["charges_90"]
    adjudicated = qs.filter(first_adjudicated_at__gte=start, first_adjudicated_at__lt=end).aggregate(
        n=Count("id"), denied=Count("id", filter=Q(denied_at__isnull=False))
    )
    submitted = qs.filter(submitted_at__gte=start, submitted_at__lt=end).aggregate(
        n=Count("id"), clean=Count("id", filter=Q(first_rejected_at__isnull=True))
    )
    flow = {
        "adjudicated": adjudicated["n"],
        "denied": adjudicated["denied"],
        "submitted": submitted["n"],
        "clean": submitted["clean"],
    }
    daily = charges_90 / 90 if charges_90 else ZERO
    collected = dos["paid"] + dos["patient_paid"]
    collectible = dos["charges"] - dos["contractual"]
    return Summary(
        ar_total=totals.total,
        ar_claims=totals.count,
        charges_90=charges_90,
        days_in_ar=(totals.total / daily).quantize(Decimal("0.1")) if daily else None,
        adjudicated=flow["adjudicated"],
        denied=flow["denied"],
        denial_rate=_rate(flow["denied"], flow["adjudicated"]),
        submitted=flow["submitted"],
        clean=flow["clean"],
        clean_claim_rate=_rate(flow["clean"], flow["submitted"]),
        collected=collected,
        collectible=collectible,
        net_collection_rate=_rate(collected, collectible),
    )


def scoped_denials(user: User) -> QuerySet[Denial]:
    if not user.is_authenticated or not user.has_perm(DASHBOARD):
        return Denial.objects.none()
    return Denial.objects.filter(patient_scope_q(user, "claim__patient"))


@dataclass
class ReasonRow:
    reason: str
    description: str
    denials: int
    claims: int
    amount: Decimal


def denial_reasons(user: User, today: date, days: int, limit: int = 15) -> list[ReasonRow]:
    """Top denial reasons (leading CARC) in the period by amount denied (one grouped query)."""
    _since, _until, start, end = period(today, days)
    rows = (
        scoped_denials(user)
        .filter(created_at__gte=start, created_at__lt=end)
        .values("reason")
        .annotate(n=Count("id"), claims=Count("claim", distinct=True), amount=_zero(Sum("amount")))
        .order_by("-amount", "reason")[:limit]
    )
    return [
        ReasonRow(
            reason=r["reason"] or "?",
            description=str(carc.describe_carc(r["reason"], on=today)) if r["reason"] else "no reason code",
            denials=r["n"],
            claims=r["claims"],
            amount=r["amount"],
        )
        for r in rows
    ]


@dataclass
class CategoryRow:
    category: str
    label: str
    denials: int
    amount: Decimal
    open: int


def denial_categories(user: User, today: date, days: int) -> list[CategoryRow]:
    _since, _until, start, end = period(today, days)
    rows = (
        scoped_denials(user)
        .filter(created_at__gte=start, created_at__lt=end)
        .values("category")
        .annotate(n=Count("id"), amount=_zero(Sum("amount")), open=Count("id", filter=Q(status="open")))
        .order_by("-amount")
    )
    return [
        CategoryRow(
            r["category"],
            CATEGORIES.get(r["category"], CATEGORIES["other"]).label,
            r["n"],
            r["amount"],
            r["open"],
        )
        for r in rows
    ]


@dataclass
class RateRow:
    key: str  # payer id or provider public id, for the drill-down
    name: str
    adjudicated: int
    denied: int
    rate: Decimal | None = field(default=None)


def denial_rates(user: User, today: date, days: int, *, by: str) -> list[RateRow]:
    """Denial rate by payer or by rendering provider over the claims first adjudicated in the period."""
    _since, _until, start, end = period(today, days)
    key, name = {
        "payer": ("payer__payer_id", "payer__name"),
        "provider": ("rendering_provider__public_id", "rendering_provider__last_name"),
    }[by]
    extra = ("rendering_provider__first_name",) if by == "provider" else ()
    rows = (
        scoped_claims(user)
        .filter(first_adjudicated_at__gte=start, first_adjudicated_at__lt=end)
        .values(key, name, *extra)
        .annotate(n=Count("id"), denied=Count("id", filter=Q(denied_at__isnull=False)))
        .order_by("-denied", name)
    )
    out = []
    for r in rows:
        label = f"{r[name]}, {r['rendering_provider__first_name']}" if by == "provider" else r[name]
        out.append(RateRow(str(r[key]), label, r["n"], r["denied"], _rate(r["denied"], r["n"])))
    return out
