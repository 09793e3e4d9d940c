"""The synthetic clinic the benchmarks run against, built set-based in its own database.

Shape at `--scale full` (`small` is ten times smaller, same 20 care teams and staff):

- 20 care teams of 1,000 patients each (20,000 patients), one provider per team;
- three pods of care teams (team i is in pod i % 3; pod 0 holds 7 of the 20 teams, 35 % of
  the patients); each pod has 20 front-office, 12 clinical-support and 8 billing VMAs and 5
  nurses, each granted `vma.access_panel` on every team of their pod; 3 managers, 1 admin;
- 40 payers; every patient has an active primary coverage, 40 % an active secondary, one in
  seven an expired one;
- 1,000,000 work items, 100,000 of them open (statuses: ~76 % open, ~11 % escalated, ~9 %
  claimed, ~4 % waiting), 900,000 closed (done, 7 % cancelled) over the last two years.

Subjects are what each registered kind is really about, which also keeps the partial unique
constraint (one open item per kind and subject) honest without inventing bench-only kinds:

- `patients.document_index` (70 % of items): subject = its own ChartDocument (every document
  that arrives is indexed once; 700,000 documents, the 70,000 open ones not indexed yet);
- `patients.coverage_review` (15 %): subject = an active Coverage; the 15,000 open reviews are
  on 15,000 distinct coverages (of 28,000), closed reviews on any;
- `patients.callback` (15 %): subject = the Patient; the 15,000 open call-backs are on 15,000
  distinct patients.

Open items were created within about one SLA of now, so ~9 % are past due; those were escalated
by the overdue sweeper (urgent, `overdue_escalated_at` set), as production would show. ~3 % were
escalated by hand to another queue (nurse or billing). Claimed and waiting items belong to a VMA
of the item's queue and the patient's pod. Every item has its "open" event, every closed one its
closing event.

The big tables are written with INSERT ... SELECT over generate_series. Foreign-key triggers are
off during the load (session_replication_role = replica: on 1M rows the deferred per-row checks
would dominate the build); CHECK and UNIQUE constraints stay enforced, and every foreign key the
load wrote is verified afterwards with set-based anti-joins. Then VACUUM ANALYZE.

The dataset is reused while its marker (table `bench_dataset`: part, version, scale) matches;
`--rebuild` or a different scale flushes the database and builds again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse

    from vma.models import User

DATABASE_NAME = os.environ.get("BENCH_DATABASE_NAME", "vma_bench")
# Bump when the generator changes: an existing dataset of another version is rebuilt.
DATASET_VERSION = 1
CORE_PART = "core"
PASSWORD = "Bench-Password-2026"  # noqa: S105 - synthetic accounts in a throwaway database
TEAMS = 20
PODS = 3
# Per pod: the VMAs (and nurses) who work its teams' queues.
POD_STAFF = {"front_office": 20, "clinical_support": 12, "billing": 8, "nurse": 5}
# The VMA of the queue-page and claim-next benchmarks: front office, pod 0 (7 teams, 35 %).
BENCH_VMA = "bench.front_office.p0.01"

# kind -> (share of all items, default queue, SLA minutes, queue an escalation goes to)
KINDS: dict[str, tuple[float, str, int, str]] = {
    "patients.document_index": (0.70, "clinical_support", 8 * 60, "nurse"),
    "patients.coverage_review": (0.15, "front_office", 24 * 60, "billing"),
    "patients.callback": (0.15, "front_office", 4 * 60, "nurse"),
}


@dataclass(frozen=True)
class Scale:
    name: str
    patients: int
    work_items: int
    open_items: int

    def count(self, kind: str) -> tuple[int, int]:
        """(open, closed) items of a kind."""
        share = KINDS[kind][0]
        return round(self.open_items * share), round((self.work_items - self.open_items) * share)


SCALES = {
    "full": Scale("full", patients=20_000, work_items=1_000_000, open_items=100_000),
    "small": Scale("small", patients=2_000, work_items=100_000, open_items=10_000),
}


def bench_database_url(url: str) -> str:
    """The same server as `url`, database `vma_bench`."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"The benchmarks need PostgreSQL; DATABASE_URL is {parts.scheme or 'unset'}.")
    return urlunsplit(parts._replace(path=f"/{DATABASE_NAME}"))


def bench_redis_url(url: str) -> str:
    """The same Redis server as `url`, database 13: never the application's db 0."""
    parts = urlsplit(url or "redis://127.0.0.1:6379/0")
    return urlunsplit(parts._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "13")))


def create_database_if_missing(url: str) -> bool:
    """Create the bench database through the `postgres` maintenance database. True if created."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        dbname="postgres",
        user=parts.username or None,
        password=parts.password or None,
        host=parts.hostname or None,
        port=parts.port or None,
    )
    admin.autocommit = True  # CREATE DATABASE refuses to run in a transaction
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        admin.close()


# ---------------------------------------------------------------------------------------------
# The handle benchmarks get
# ---------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    scale: Scale
    log: Callable[[str], None] = print

    def user(self, username: str) -> User:
        from vma.models import User

        return User.objects.get(username=username)

    def staff(self, role: str, pod: int | None = None) -> list[User]:
        """The pod's VMAs of a role (all pods when pod is None), in a stable order."""
        from vma.models import User

        prefix = f"bench.{role}." + (f"p{pod}." if pod is not None else "")
        return list(User.objects.filter(username__startswith=prefix).order_by("username"))

    def client_for(self, user: User) -> Client:
        """A test client logged in as `user`, as a browser with a session cookie would be."""
        from django.test import Client

        # ALLOWED_HOSTS has no "testserver" outside the test runner.
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        return client

    @staticmethod
    def get_ok(client: Client, path: str) -> _MonkeyPatchedWSGIResponse:
        """GET `path`; anything but 200 stops the benchmark (a fast error page proves nothing)."""
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return response


def _marker_rows() -> dict[str, tuple[int, str]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            CREATE TABLE IF NOT EXISTS bench_dataset (
                part text PRIMARY KEY, version integer NOT NULL, scale text NOT NULL,
                built_at timestamptz NOT NULL DEFAULT now(), seconds double precision NOT NULL,
                counts jsonb NOT NULL DEFAULT '{}'
            )
            """
        )
        cur.execute("SELECT part, version, scale FROM bench_dataset")
        return {part: (version, scale) for part, version, scale in cur.fetchall()}


def _mark(part: str, version: int, scale: Scale, seconds: float, counts: dict[str, int]) -> None:
    import json

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO bench_dataset (part, version, scale, seconds, counts) VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (part) DO UPDATE SET version = EXCLUDED.version, scale = EXCLUDED.scale,
                built_at = now(), seconds = EXCLUDED.seconds, counts = EXCLUDED.counts
            """,
            [part, version, scale.name, seconds, json.dumps(counts)],
        )


def ensure(scale: Scale, *, rebuild: bool = False, log: Callable[[str], None] = print) -> Dataset:
    """Migrate, then build whatever part of the dataset is missing, stale or of another scale."""
    from django.core.management import call_command
    from django.db import connection

    from .harness import registered_parts

    ds = Dataset(scale, log)
    call_command("migrate", interactive=False, verbosity=0)
    marks = _marker_rows()
    if rebuild or marks.get(CORE_PART) != (DATASET_VERSION, scale.name):
        log(f"Building the {scale.name} dataset in {connection.settings_dict['NAME']} …")
        start = time.perf_counter()
        _flush()
        counts = build_core(ds)
        _mark(CORE_PART, DATASET_VERSION, scale, time.perf_counter() - start, counts)
        log(f"  core built in {time.perf_counter() - start:.1f} s: {counts}")
        marks = _marker_rows()
    for part in registered_parts().values():
        if marks.get(part.name) == (part.version, scale.name):
            continue
        log(f"Building dataset part {part.name!r} …")
        start = time.perf_counter()
        part.build(ds)
        _analyze()
        _mark(part.name, part.version, scale, time.perf_counter() - start, {})
        log(f"  {part.name} built in {time.perf_counter() - start:.1f} s")
    return ds


def _flush() -> None:
    """Empty every table (TRUNCATE), then re-create content types, permissions and role groups."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection

    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE bench_dataset")
    ContentType.objects.clear_cache()


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


# ---------------------------------------------------------------------------------------------
# Building the core dataset
# ---------------------------------------------------------------------------------------------

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "William",
    "Mia", "Benjamin", "Charlotte", "Lucas", "Amelia", "Henry", "Harper", "Theodore", "Evelyn",
    "Jack", "Abigail", "Levi", "Emily", "Alexander", "Ella", "Jackson", "Elizabeth", "Mateo",
    "Camila", "Daniel", "Luna", "Michael", "Sofia", "Mason", "Avery", "Sebastian", "Mila", "Ethan",
    "Aria", "Logan", "Scarlett", "Owen", "Penelope", "Samuel", "Layla", "Jacob", "Chloe", "Asher",
    "Victoria", "Aiden", "Madison", "John", "Eleanor", "Joseph", "Grace", "Wyatt", "Nora", "David",
    "Riley", "Leo", "Zoey", "Luke", "Hannah", "Julian", "Hazel", "Ezra", "Lily", "Grayson",
    "Ellie", "Maria", "Jose", "Wei", "Fatima", "Mohammed", "Priya", "Arjun", "Yuki", "Hiroshi",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Chen", "Wang", "Singh",
]  # fmt: skip
CITIES = [("Springfield", "IL", "627"), ("Columbus", "OH", "432"), ("Richmond", "VA", "232"),
          ("Albany", "NY", "122"), ("Madison", "WI", "537"), ("Salem", "OR", "973"),
          ("Austin", "TX", "787"), ("Raleigh", "NC", "276"), ("Denver", "CO", "802")]  # fmt: skip
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine Rd", "Lakeview Dr", "Park Ave"]
PAYERS = [
    "Aetna", "Anthem Blue Cross", "Blue Cross Blue Shield", "Cigna", "Humana", "Kaiser Permanente",
    "Medicare Part B", "Medicaid", "UnitedHealthcare", "Tricare", "Oscar Health", "Molina Healthcare",
    "Centene Ambetter", "Highmark", "Independence Blue Cross", "Florida Blue", "Premera Blue Cross",
    "Regence", "Harvard Pilgrim", "Tufts Health Plan", "EmblemHealth", "Fidelis Care", "Healthfirst",
    "WellCare", "CareFirst", "Priority Health", "Geisinger Health Plan", "Medical Mutual", "Avera Health Plans",
    "Sanford Health Plan", "Dean Health Plan", "Quartz", "SelectHealth", "Presbyterian Health Plan",
    "Blue Shield of California", "Health Net", "L.A. Care", "Caresource", "Amerigroup", "Meridian",
]  # fmt: skip


def build_core(ds: Dataset) -> dict[str, int]:
    from django.db import connection, transaction

    ids = _build_people(ds)
    with transaction.atomic(), connection.cursor() as cur:
        # Per-row FK triggers off for the load; verified set-based in _verify below.
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cur.execute("SELECT setseed(0.2026)")
        restore = _drop_secondary_indexes(cur, _BULK_TABLES)
        steps: list[tuple[str, Callable[[Any, dict[str, Any]], None]]] = [
            ("patients", _patients),
            ("coverages", _coverages),
            ("documents", _documents),
            ("work items", _work_items),
            ("work-item events", _events),
        ]
        for label, step in steps:
            start = time.perf_counter()
            step(cur, ids)
            ds.log(f"  {label}: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        for statement in restore:
            cur.execute(statement)
        ds.log(f"  indexes and unique constraints rebuilt: {time.perf_counter() - start:.1f} s")
        cur.execute("SET LOCAL session_replication_role = origin")
        start = time.perf_counter()
        _verify(cur)
        ds.log(f"  foreign keys verified: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    with connection.cursor() as cur:
        for table in (
            "patients_patient",
            "patients_coverage",
            "patients_chartdocument",
            "vma_workitem",
            "vma_workitemevent",
        ):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    _analyze()
    ds.log(f"  vacuum analyze: {time.perf_counter() - start:.1f} s")
    return _counts()


# Loaded in bulk: their secondary indexes are dropped first and built once at the end (sorting
# a million keys once is several times faster than a million b-tree insertions). Primary keys
# stay: other tables' foreign keys hang on them.
_BULK_TABLES = ["patients_chartdocument", "vma_workitem", "vma_workitemevent"]


def _drop_secondary_indexes(cur: Any, tables: list[str]) -> list[str]:
    """Drop every non-primary index of `tables`; return the statements that re-create them.

    Read from the catalog, so indexes added by later migrations are handled too. Unique
    constraints come back as constraints, partial unique indexes as indexes: the load is
    checked against both when they are rebuilt, inside the same transaction.
    """
    cur.execute(
        """
        SELECT t.relname, ic.relname, pg_get_indexdef(i.indexrelid), con.conname, pg_get_constraintdef(con.oid)
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_class ic ON ic.oid = i.indexrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype = 'u'
        WHERE t.relname = ANY(%s) AND NOT i.indisprimary AND t.relnamespace = 'public'::regnamespace
        ORDER BY t.relname, ic.relname
        """,
        [tables],
    )
    restore = []
    for table, index, indexdef, constraint, constraintdef in cur.fetchall():
        if constraint:
            cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraintdef}')
        else:
            cur.execute(f'DROP INDEX "{index}"')
            restore.append(indexdef)
    return restore


def _counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT (SELECT count(*) FROM patients_patient), (SELECT count(*) FROM vma_workitem),
                   (SELECT count(*) FROM vma_workitem WHERE status IN ('open', 'claimed', 'waiting', 'escalated')),
                   (SELECT count(*) FROM patients_chartdocument), (SELECT count(*) FROM vma_workitemevent),
                   (SELECT count(*) FROM vma_user)
            """
        )
        row = cur.fetchone()
    assert row is not None
    return dict(zip(("patients", "work_items", "open_items", "documents", "events", "users"), row, strict=True))


def _build_people(ds: Dataset) -> dict[str, Any]:
    """Users, groups, care teams and their guardian grants, payers: a few hundred rows, ORM."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from patients.models import ChartDocument, Coverage, Patient, Payer
    from vma.models import CareTeam, User
    from vma.roles import Role
    from vma.validators import npi_check_digit
    from vma.workqueue import get_kind

    for kind in KINDS:
        get_kind(kind)  # the dataset only uses kinds the apps really register
    password = make_password(PASSWORD)
    groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
    staff: list[tuple[User, str, int | None]] = []
    credentials = ["MD", "DO", "NP", "PA"]
    for t in range(TEAMS):
        first_nine = str(190000000 + t)
        staff.append(
            (
                User(username=f"bench.provider.{t + 1:02d}", first_name=FIRST_NAMES[t], last_name=LAST_NAMES[t],
                     npi=first_nine + str(npi_check_digit(first_nine)), credentials=credentials[t % 4]),
                Role.PROVIDER, None,
            )
        )  # fmt: skip
    n = 0
    for pod in range(PODS):
        for role, count in POD_STAFF.items():
            for k in range(1, count + 1):
                n += 1
                staff.append(
                    (
                        User(username=f"bench.{role}.p{pod}.{k:02d}", first_name=FIRST_NAMES[(n * 7) % len(FIRST_NAMES)],
                             last_name=LAST_NAMES[(n * 11) % len(LAST_NAMES)], credentials="RN" if role == "nurse" else ""),
                        role, pod,
                    )
                )  # fmt: skip
    for k in range(1, 4):
        staff.append(
            (User(username=f"bench.manager.{k}", first_name="Morgan", last_name=f"Manager{k}"), Role.MANAGER, None)
        )
    staff.append((User(username="bench.admin", first_name="Avery", last_name="Admin"), Role.ADMIN, None))

    with transaction.atomic():
        for user, _role, _pod in staff:
            user.password = password
            user.email = f"{user.username}@example.invalid"
        User.objects.bulk_create([u for u, _r, _p in staff])
        users = {u.username: u for u in User.objects.filter(username__startswith="bench.")}
        Membership = User.groups.through
        Membership.objects.bulk_create(
            [Membership(user_id=users[u.username].pk, group_id=groups[role].pk) for u, role, _p in staff]
        )
        teams = []
        for t in range(TEAMS):
            provider = users[f"bench.provider.{t + 1:02d}"]
            teams.append(CareTeam.objects.create(name=f"Team {t + 1:02d} · Dr {provider.last_name}", provider=provider))
        for t, team in enumerate(teams):
            # The same grant add_to_care_team makes, for a whole pod at once.
            members = [users[f"bench.provider.{t + 1:02d}"]] + [
                users[u.username] for u, _role, pod in staff if pod == t % PODS
            ]
            assign_perm("vma.access_panel", members, team)
        Payer.objects.bulk_create(
            [Payer(name=name, payer_id=f"BP{i:03d}", requires_referral=i % 5 == 0) for i, name in enumerate(PAYERS, 1)]
        )

    staff_rows = [
        (pod, role, k, users[u.username].pk)
        for role in POD_STAFF
        for pod in range(PODS)
        for k, (u, _r, _p) in enumerate(s for s in staff if s[1] == role and s[2] == pod)
    ]
    return {
        "teams": [t.pk for t in teams],
        "payers": list(Payer.objects.order_by("pk").values_list("pk", flat=True)),
        "staff": staff_rows,
        "ct_patient": ContentType.objects.get_for_model(Patient).pk,
        "ct_coverage": ContentType.objects.get_for_model(Coverage).pk,
        "ct_document": ContentType.objects.get_for_model(ChartDocument).pk,
        "patients": ds.scale.patients,
        "kinds": {kind: ds.scale.count(kind) for kind in KINDS},
        "year_start": date(timezone.localdate().year, 1, 1),
    }


def _patients(cur: Any, ids: dict[str, Any]) -> None:
    cur.execute(
        """
        INSERT INTO patients_patient (public_id, mrn, first_name, last_name, date_of_birth, sex, phone, email,
            address_line, city, state, postal_code, preferred_channel, language, care_team_id, created_at, updated_at)
        SELECT gen_random_uuid(), 'BN' || lpad(g::text, 8, '0'),
               fn[1 + (g * 7) %% cardinality(fn)], ln[1 + (g * 13 + g / 97) %% cardinality(ln)],
               date '1930-01-01' + (random() * 32000)::int,
               CASE WHEN g %% 211 = 0 THEN 'U' WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END,
               '555-' || lpad((g %% 10000)::text, 4, '0'),
               CASE WHEN g %% 4 = 0 THEN '' ELSE 'patient' || g || '@example.invalid' END,
               (100 + g %% 9000) || ' ' || street[1 + g %% cardinality(street)],
               city[1 + g %% cardinality(city)], state[1 + g %% cardinality(state)],
               zip[1 + g %% cardinality(zip)] || lpad((g %% 100)::text, 2, '0'),
               (ARRAY['sms', 'sms', 'sms', 'email', 'voice', 'portal'])[1 + g %% 6],
               CASE WHEN g %% 9 = 0 THEN 'Spanish' WHEN g %% 47 = 0 THEN 'Vietnamese' ELSE 'English' END,
               teams[1 + (g - 1) %% cardinality(teams)],
               now() - random() * interval '3650 days', now()
        FROM generate_series(1, %(n)s) g,
             (SELECT %(fn)s::text[] fn, %(ln)s::text[] ln, %(street)s::text[] street, %(city)s::text[] city,
                     %(state)s::text[] state, %(zip)s::text[] zip, %(teams)s::bigint[] teams) a
        """,
        {
            "n": ids["patients"], "fn": FIRST_NAMES, "ln": LAST_NAMES, "street": STREETS,
            "city": [c[0] for c in CITIES], "state": [c[1] for c in CITIES], "zip": [c[2] for c in CITIES],
            "teams": ids["teams"],
        },
    )  # fmt: skip
    # n = position in generation order; pod = team index % PODS (see _build_people).
    cur.execute(
        """
        CREATE TEMP TABLE bench_p ON COMMIT DROP AS
        SELECT p.id, row_number() OVER (ORDER BY p.id) AS n, p.care_team_id,
               (array_position(%(teams)s::bigint[], p.care_team_id) - 1) %% %(pods)s AS pod
        FROM patients_patient p
        """,
        {"teams": ids["teams"], "pods": PODS},
    )
    cur.execute("CREATE UNIQUE INDEX ON bench_p (n)")
    cur.execute("CREATE UNIQUE INDEX ON bench_p (id)")
    cur.execute("CREATE TEMP TABLE bench_staff (pod int, role text, k int, user_id bigint) ON COMMIT DROP")
    cur.executemany("INSERT INTO bench_staff VALUES (%s, %s, %s, %s)", ids["staff"])
    cur.execute(
        "CREATE TEMP TABLE bench_staff_n ON COMMIT DROP AS SELECT pod, role, count(*)::int AS n FROM bench_staff GROUP BY 1, 2"
    )
    cur.execute("ANALYZE bench_p; ANALYZE bench_staff; ANALYZE bench_staff_n")


def _coverages(cur: Any, ids: dict[str, Any]) -> None:
    # rank 1 active for everyone, rank 2 active for 40 %, an expired rank 1 for one in seven.
    cur.execute(
        """
        INSERT INTO patients_coverage (public_id, rank, member_id, group_number, plan_name, subscriber_relation,
            subscriber_first_name, subscriber_last_name, subscriber_date_of_birth, plan_begin, plan_end, active,
            created_at, updated_at, patient_id, payer_id)
        SELECT gen_random_uuid(), r.rank, 'M' || lpad(p.n::text, 9, '0') || r.rank || (NOT r.active)::int,
               'G' || (p.n %% 500), (ARRAY['PPO', 'HMO', 'EPO', 'Medicare Advantage', 'Medicaid Managed Care'])[1 + p.n %% 5],
               CASE WHEN p.n %% 6 = 0 THEN '01' ELSE '18' END, '', '', NULL,
               CASE WHEN r.active THEN %(year_start)s::date - ((p.n %% 4) * 365)::int ELSE %(year_start)s::date - 1460 END,
               CASE WHEN r.active THEN NULL ELSE %(year_start)s::date - 366 END,
               r.active, now() - interval '400 days', now(), p.id,
               payers[1 + (p.n * r.rank + (NOT r.active)::int * 7) %% cardinality(payers)]
        FROM bench_p p
        JOIN (VALUES (1, true), (2, true), (1, false)) r(rank, active)
          ON (r.rank = 1 AND r.active) OR (r.rank = 2 AND p.n %% 10 < 4) OR (NOT r.active AND p.n %% 7 = 3),
             (SELECT %(payers)s::bigint[] payers) a
        ORDER BY p.id, r.rank
        """,
        {"payers": ids["payers"], "year_start": ids["year_start"]},
    )
    cur.execute(
        """
        CREATE TEMP TABLE bench_cov ON COMMIT DROP AS
        SELECT c.id, row_number() OVER (ORDER BY c.id) AS n, p.id AS patient_id, p.pod
        FROM patients_coverage c JOIN bench_p p ON p.id = c.patient_id WHERE c.active
        """
    )
    cur.execute("CREATE UNIQUE INDEX ON bench_cov (n)")
    cur.execute("ANALYZE bench_cov")
    cur.execute("SELECT count(*) FROM bench_cov")
    open_reviews = ids["kinds"]["patients.coverage_review"][0]
    if cur.fetchone()[0] < open_reviews:
        raise RuntimeError("Not enough active coverages for one open review each")
    if ids["kinds"]["patients.callback"][0] > ids["patients"]:
        raise RuntimeError("Not enough patients for one open call-back each")


def _documents(cur: Any, ids: dict[str, Any]) -> None:
    """One document per document-index item; the first `open` ones are not indexed yet."""
    open_n, closed_n = ids["kinds"]["patients.document_index"]
    cur.execute(
        """
        INSERT INTO patients_chartdocument (public_id, category, title, file, content_type, size_bytes,
            received_at, indexed_at, created_at, indexed_by_id, patient_id)
        SELECT d.uuid, d.category, d.title, 'chart/' || pp.public_id || '/' || d.uuid,
               'application/pdf', d.size, d.received_at,
               CASE WHEN d.g > %(open)s THEN d.received_at + d.work END,
               d.received_at,
               CASE WHEN d.g > %(open)s THEN s.user_id END,
               p.id
        FROM (
            SELECT g, gen_random_uuid() AS uuid, 1 + floor(random() * %(patients)s)::bigint AS pn,
                   (ARRAY['lab_result', 'lab_result', 'lab_result', 'imaging', 'consult', 'hospital',
                          'insurance_card', 'correspondence', 'other'])[1 + floor(random() * 9)::int] AS category,
                   (ARRAY['Lab results received by fax', 'Outside records', 'Imaging report', 'Consult letter',
                          'ER discharge summary', 'Insurance card scan'])[1 + floor(random() * 6)::int] AS title,
                   20000 + floor(random() * 2000000)::int AS size,
                   CASE WHEN g <= %(open)s THEN now() - random() * interval '8 hours' * 1.1
                        ELSE now() - interval '1 day' - random() * interval '730 days' END AS received_at,
                   interval '10 minutes' + random() * interval '2 days' AS work,
                   floor(random() * 1000)::int AS pick
            FROM generate_series(1, %(total)s) g
            OFFSET 0
        ) d
        JOIN bench_p p ON p.n = d.pn
        JOIN patients_patient pp ON pp.id = p.id
        JOIN bench_staff_n sn ON sn.pod = p.pod AND sn.role = 'clinical_support'
        JOIN bench_staff s ON s.pod = p.pod AND s.role = 'clinical_support' AND s.k = d.pick %% sn.n
        ORDER BY d.received_at
        """,
        {"open": open_n, "total": open_n + closed_n, "patients": ids["patients"]},
    )


def _work_items(cur: Any, ids: dict[str, Any]) -> None:
    """Every item of every kind in one INSERT, in creation order (ids grow with time, as in life)."""
    cb_open, cb_closed = ids["kinds"]["patients.callback"]
    cov_open, cov_closed = ids["kinds"]["patients.coverage_review"]
    sla = {kind: spec[2] for kind, spec in KINDS.items()}
    cur.execute(
        """
        INSERT INTO vma_workitem (public_id, kind, title, detail, subject_type_id, subject_id, patient_id, queue,
            assignee_id, status, priority, due_at, sla_minutes, snoozed_until, escalation_reason,
            overdue_escalated_at, resolution_note, created_at, updated_at, claimed_at, closed_at,
            created_by_id, closed_by_id)
        WITH spec AS MATERIALIZED (
            -- document index: one per document; open while the document is not indexed
            SELECT 'patients.document_index' AS kind, %(ct_document)s AS ct, d.id AS subject_id, d.patient_id,
                   p.pod, 'clinical_support' AS base_queue, 'nurse' AS other_queue, %(sla_doc)s AS sla,
                   d.indexed_at IS NULL AS is_open, d.received_at AS created_at, d.indexed_at AS done_at,
                   d.title AS title, d.indexed_by_id AS doer, random() AS u, random() AS v, random() AS w,
                   random() AS z
            FROM patients_chartdocument d JOIN bench_p p ON p.id = d.patient_id
            UNION ALL
            -- coverage review: open ones on distinct active coverages, closed ones on any
            SELECT 'patients.coverage_review', %(ct_coverage)s, c.id, c.patient_id, c.pod, 'front_office', 'billing',
                   %(sla_cov)s, g <= %(cov_open)s, NULL, NULL,
                   (ARRAY['Coverage expires before the next visit', 'Confirm secondary coverage',
                          'New insurance card received', 'Eligibility check failed'])[1 + g %% 4],
                   NULL, random(), random(), random(), random()
            FROM generate_series(1::bigint, %(cov_total)s) g
            JOIN bench_cov c ON c.n = CASE WHEN g <= %(cov_open)s THEN g
                                           ELSE 1 + (g * 7919) %% (SELECT count(*) FROM bench_cov) END
            UNION ALL
            -- call-back: open ones on distinct patients, closed ones on any
            SELECT 'patients.callback', %(ct_patient)s, p.id, p.id, p.pod, 'front_office', 'nurse',
                   %(sla_cb)s, g <= %(cb_open)s, NULL, NULL,
                   (ARRAY['Call back about a bill', 'Call back to reschedule', 'Call back about a referral',
                          'Call back about test results', 'Call back about a prescription'])[1 + g %% 5],
                   NULL, random(), random(), random(), random()
            FROM generate_series(1::bigint, %(cb_total)s) g
            JOIN bench_p p ON p.n = CASE WHEN g <= %(cb_open)s THEN g ELSE 1 + (g * 104729) %% %(patients)s END
        ),
        timed AS MATERIALIZED (
            SELECT s.*,
                   coalesce(s.created_at, CASE WHEN s.is_open THEN now() - s.u * s.sla * 1.1 * interval '1 minute'
                                               ELSE now() - interval '1 day' - s.u * interval '730 days' END) AS born
            FROM spec s
        ),
        shaped AS MATERIALIZED (
            SELECT t.*, t.born + t.sla * interval '1 minute' AS due,
                   t.born + t.sla * interval '1 minute' < now() AS overdue,
                   CASE WHEN NOT t.is_open THEN CASE WHEN t.z < 0.07 THEN 'cancelled' ELSE 'done' END
                        WHEN t.v < 0.04 THEN 'waiting'
                        WHEN t.v < 0.13 THEN 'claimed'
                        WHEN t.v < 0.16 THEN 'handed'
                        WHEN t.born + t.sla * interval '1 minute' < now() THEN 'escalated'
                        ELSE 'open' END AS state,
                   CASE WHEN t.w < 0.03 THEN 1 WHEN t.w < 0.15 THEN 2 WHEN t.w < 0.85 THEN 3 ELSE 4 END AS prio,
                   coalesce(t.done_at, t.born + interval '10 minutes' + t.z * interval '3 days') AS closed
            FROM timed t
        )
        SELECT gen_random_uuid(), x.kind, x.title, '', x.ct, x.subject_id, x.patient_id,
               CASE WHEN x.state = 'handed' THEN x.other_queue ELSE x.base_queue END,
               CASE WHEN x.state IN ('claimed', 'waiting') THEN s.user_id WHEN x.state = 'done' THEN coalesce(x.doer, s.user_id) END,
               CASE WHEN x.state = 'handed' THEN 'escalated' ELSE x.state END,
               CASE WHEN x.overdue AND x.state IN ('claimed', 'handed', 'escalated') THEN 1
                    WHEN x.state = 'handed' THEN least(x.prio, 2) ELSE x.prio END,
               x.due, x.sla,
               CASE WHEN x.state = 'waiting' THEN now() + interval '1 hour' + x.z * interval '3 days' END,
               CASE WHEN x.state = 'handed' THEN 'Needs a clinical or billing decision'
                    WHEN x.state = 'escalated' THEN 'Overdue: was due ' || to_char(x.due, 'Mon DD HH24:MI') || '.'
                    ELSE '' END,
               CASE WHEN x.state IN ('claimed', 'handed', 'escalated') AND x.overdue THEN x.due + interval '1 minute' END,
               CASE x.state WHEN 'done' THEN 'Done.' WHEN 'cancelled' THEN 'No longer needed.' ELSE '' END,
               x.born,
               CASE WHEN x.is_open THEN now() ELSE x.closed END,
               CASE WHEN x.state IN ('claimed', 'waiting') THEN x.born + (now() - x.born) * x.z
                    WHEN x.state = 'done' THEN x.born + (x.closed - x.born) * 0.5 END,
               CASE WHEN x.state IN ('done', 'cancelled') THEN x.closed END,
               NULL,
               CASE WHEN x.state = 'done' THEN coalesce(x.doer, s.user_id) END
        FROM shaped x
        JOIN bench_staff_n sn ON sn.pod = x.pod AND sn.role = x.base_queue
        JOIN bench_staff s ON s.pod = x.pod AND s.role = x.base_queue AND s.k = floor(x.z * 10007)::int %% sn.n
        ORDER BY x.born
        """,
        {
            "ct_document": ids["ct_document"], "ct_coverage": ids["ct_coverage"], "ct_patient": ids["ct_patient"],
            "sla_doc": sla["patients.document_index"], "sla_cov": sla["patients.coverage_review"],
            "sla_cb": sla["patients.callback"], "cov_open": cov_open, "cov_total": cov_open + cov_closed,
            "cb_open": cb_open, "cb_total": cb_open + cb_closed, "patients": ids["patients"],
        },
    )  # fmt: skip


def _events(cur: Any, ids: dict[str, Any]) -> None:
    """The history a real item would have: opened; claimed; completed or cancelled."""
    cur.execute(
        """
        INSERT INTO vma_workitemevent (action, from_status, to_status, note, at, actor_id, item_id)
        SELECT e.action, e.from_status, e.to_status, e.note, e.at, e.actor_id, e.item_id
        FROM (
            SELECT 'open' AS action, '' AS from_status, 'open' AS to_status, '' AS note, w.created_at AS at,
                   NULL::bigint AS actor_id, w.id AS item_id, 0 AS step
            FROM vma_workitem w
            UNION ALL
            SELECT 'claim', 'open', 'claimed', '', w.claimed_at, w.assignee_id, w.id, 1
            FROM vma_workitem w WHERE w.claimed_at IS NOT NULL
            UNION ALL
            SELECT CASE w.status WHEN 'done' THEN 'complete' ELSE 'cancel' END, CASE WHEN w.claimed_at IS NULL THEN 'open' ELSE 'claimed' END,
                   w.status, w.resolution_note, w.closed_at, w.closed_by_id, w.id, 2
            FROM vma_workitem w WHERE w.closed_at IS NOT NULL
        ) e
        ORDER BY e.at, e.item_id, e.step
        """
    )


# (table, column, referenced table) for every foreign key the load wrote.
_FOREIGN_KEYS = [
    ("patients_patient", "care_team_id", "vma_careteam"),
    ("patients_coverage", "patient_id", "patients_patient"),
    ("patients_coverage", "payer_id", "patients_payer"),
    ("patients_chartdocument", "patient_id", "patients_patient"),
    ("patients_chartdocument", "indexed_by_id", "vma_user"),
    ("vma_workitem", "patient_id", "patients_patient"),
    ("vma_workitem", "subject_type_id", "django_content_type"),
    ("vma_workitem", "assignee_id", "vma_user"),
    ("vma_workitem", "closed_by_id", "vma_user"),
    ("vma_workitemevent", "item_id", "vma_workitem"),
    ("vma_workitemevent", "actor_id", "vma_user"),
]


def _verify(cur: Any) -> None:
    """What the skipped foreign-key triggers would have checked, and the generic relations."""
    problems = []
    for table, column, target in _FOREIGN_KEYS:
        cur.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL "  # noqa: S608 - fixed names
            f"AND NOT EXISTS (SELECT 1 FROM {target} r WHERE r.id = t.{column})"
        )
        dangling = cur.fetchone()[0]
        if dangling:
            problems.append(f"{table}.{column}: {dangling} rows point nowhere")
    for model_table, app_label, model in (
        ("patients_patient", "patients", "patient"),
        ("patients_coverage", "patients", "coverage"),
        ("patients_chartdocument", "patients", "chartdocument"),
    ):
        cur.execute(
            f"SELECT count(*) FROM vma_workitem w JOIN django_content_type ct ON ct.id = w.subject_type_id "  # noqa: S608
            f"WHERE ct.app_label = %s AND ct.model = %s AND NOT EXISTS (SELECT 1 FROM {model_table} s WHERE s.id = w.subject_id)",
            [app_label, model],
        )
        dangling = cur.fetchone()[0]
        if dangling:
            problems.append(f"work items about a missing {model}: {dangling}")
    if problems:
        raise RuntimeError("The generated dataset is inconsistent: " + "; ".join(problems))
