"""An alert's rows by the fewest statements: the gateway's hot path (E-01, E-12).

Every statement of a voice webhook's unit is a round trip to the database, and under a
burst the gateway writer waits for the GIL after each one (docs/gateway.md). On
PostgreSQL the alert's id is drawn from its sequence by the statement that identifies
the caller (``identify_drawing_id``: one row whether the number is a line or not), so
everything that needs the id is known before anything is written: the alert, its
caller leg, its ``alert_opened`` event and its audit entry then go in one statement of
data-modifying CTEs (``insert_at_once``), with an unidentified caller's data key
(R-22: its number is encrypted under a key of its own). The webhook's receipt is claimed
by the identifying statement too (``IdentifyingClaim``): an alert is three round trips
(the claim with the identification, this statement, the commit) where it was seven for a
known line and nine for an unidentified caller. In a gateway batch of several calls, the
writer claims their receipts together first (``claim_together``: one statement for the
batch), and their rows go in with the batch's, one statement per table: a batch of twenty
calls from known lines is then six round trips, not forty-one (an unidentified caller's
data key is one more).

The alert stays an ORM object for its callers: it is made persistent in the session
without a query (``make_transient_to_detached``), every column loaded.

SQLite has no sequence to draw from, and no data-modifying CTE. There the receipt's claim
returns the next free id with the caller (``IdentifyingClaim``), inside the write
transaction that keeps every other writer out, and the rows go in by statements built
once: in a gateway batch, together with the batch's other calls' (``tgd.db.batch_rows``),
so that twenty calls make one INSERT of alerts. Each statement a batch makes costs its
thread a hand-over of the GIL under a burst (docs/gateway.md): a call's unit was four
(the claim, the identification, the alert, and the next id for an unidentified caller),
it is now the claim and a share of the batch's inserts; in a batch of several calls, the
claim too is one statement for the batch (``claim_together``, the calls given as one
JSON array), each alert's id drawn in its unit's turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CTE,
    LABEL_STYLE_TABLENAME_PLUS_COL,
    ColumnClause,
    CursorResult,
    Insert,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class

from tgd.db import batch_rows
from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.territories import Juridiction
from tgd.db.outbox_order import note_inserted
from tgd.db.statements import prefixed_insert, prefixed_values
from tgd.services import audit, events, vault

_ALERTS = cast(Table, Alert.__table__)
_LEGS = cast(Table, CallLeg.__table__)
_RECEIPTS = cast(Table, WebhookReceipt.__table__)
LEG_COLUMNS = ("alert_id", "call_sid", "role", "status", "started_at")
_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]  # any row shape


@dataclass(frozen=True, slots=True)
class Caller:
    """What an alert takes from its caller's line (R-20): ids and a reference, no ORM objects.

    Read as plain columns: loading the line, its assignment, its file and its juridiction
    as ORM objects cost a known line's voice unit about 0.2 ms of CPU, a fifth of it
    (docs/gateway.md). ``assignment_id``, ``reference`` and the file's ids are None for a
    line assigned to nobody.
    """

    line_id: int
    line_data_key_id: int | None
    territory_id: int
    assignment_id: int | None
    reference: str | None
    file_id: int | None
    file_data_key_id: int | None


# What identifies a caller: the alert's id drawn, and the caller's line (None: unknown).
Identified = tuple[int, Caller | None]


def _receipt_claim(insert_into: Any) -> Insert:
    # A webhook's receipt claimed with its answer (E-03): ``INSERT … ON CONFLICT DO
    # NOTHING`` returns the receipt's id, or nothing when another delivery of the same
    # webhook claimed it first (it waits for that one's transaction). Built once, on the
    # table: the ORM's bulk-insert path does nothing for it. Parameters: key, body, at.
    return cast(
        Insert,
        insert_into(_RECEIPTS)
        .values(
            key=bindparam("key"),
            response_body=bindparam("body"),
            content_type="text/xml",
            created_at=bindparam("at"),
        )
        .on_conflict_do_nothing(index_elements=[_RECEIPTS.c.key])
        .returning(_RECEIPTS.c.id),
    )


RECEIPT_CLAIM = _receipt_claim(pg_insert)  # PostgreSQL's (and ``IdentifyingClaim``'s CTE)
SQLITE_RECEIPT_CLAIM = _receipt_claim(sqlite_insert)  # SQLite 3.35 or later: RETURNING


def receipt_claim(session: Session) -> Insert:
    """The statement that claims a webhook's receipt on this session's database."""
    return RECEIPT_CLAIM if draws_ids(session) else SQLITE_RECEIPT_CLAIM


def draws_ids(session: Session) -> bool:
    """Tell whether this session's database draws an alert's id with no claim (a sequence)."""
    return session.get_bind().dialect.name == "postgresql"


def _current_file(query: _Query) -> _Query:
    # The line's current assignment and that assignment's file, outer-joined.
    return query.outerjoin(
        LineAssignment,
        (LineAssignment.line_id == Line.id) & LineAssignment.is_current.is_(True),
    ).outerjoin(BeneficiaryFile, BeneficiaryFile.assignment_id == LineAssignment.id)


def with_current_file(query: _Query) -> _Query:
    """Join a query's line to its current assignment and that assignment's file (R-20).

    The caller's identification as ORM objects, with its juridiction, in one row
    (``alerts.identify``: SMS, positions, allow-lists). An alert takes columns instead
    (``with_caller_columns``).
    """
    return _current_file(query).options(joinedload(Line.juridiction)).limit(1)


# The caller's columns, in ``Caller``'s order; the juridiction outer-joined too, as the
# line itself may be missing (``_identify_drawing``: one row for an unknown number).
CALLER_COLUMNS = (
    Line.id,
    Line.data_key_id,
    Juridiction.territory_id,
    LineAssignment.id,
    LineAssignment.reference,
    BeneficiaryFile.id,
    BeneficiaryFile.data_key_id,
)


def with_caller_columns(query: _Query) -> _Query:
    """Join a query's line to its juridiction, current assignment and file, as columns."""
    return _caller_joins(query).limit(1)


def _caller_joins(query: _Query) -> _Query:
    # A line has one juridiction, one current assignment and that one's file: one row per
    # line (``with_caller_columns`` still takes the first only, for one number).
    with_juridiction = query.outerjoin(Juridiction, Juridiction.id == Line.juridiction_id)
    return _current_file(with_juridiction)


def caller_from(row: Row[Any] | tuple[Any, ...] | None) -> Caller | None:
    """The caller of a row of ``CALLER_COLUMNS`` (None: no row, or no line in it)."""
    if row is None or row[0] is None:
        return None
    return Caller(*row)


_IDENTIFY_CALLER = with_caller_columns(
    select(*CALLER_COLUMNS).select_from(Line).where(Line.msisdn == bindparam("number"))
)


def identify_caller(session: Session, number: str | None) -> Caller | None:
    """Find the caller's line, its current assignment and file from the number (R-20).

    A statement on the unit's connection: no autoflush, no ORM objects to load.
    """
    if not number:
        return None
    return caller_from(session.connection().execute(_IDENTIFY_CALLER, {"number": number}).first())


def _identify_drawing(claim: CTE | None = None) -> Any:
    # ``FROM (SELECT 1) LEFT JOIN lines …``: a row, and an id, whether the number is a
    # line or not (an unknown or withheld caller is an alert too, R-22). With ``claim``,
    # the receipt's id (or NULL) comes first: PostgreSQL runs a data-modifying CTE once,
    # to completion, whatever the main query reads of it.
    columns: list[Any] = [
        func.nextval(func.pg_get_serial_sequence("alerts", "id")),
        *CALLER_COLUMNS,
    ]
    if claim is not None:
        columns.insert(0, select(claim.c.id).scalar_subquery().label("receipt_id"))
    one = select(literal(1).label("one")).subquery("one")
    query = with_caller_columns(
        select(*columns).select_from(one).outerjoin(Line, Line.msisdn == bindparam("number"))
    )
    return query if claim is None else query.add_cte(claim)


_IDENTIFY_DRAWING = _identify_drawing()
_CLAIM_IDENTIFYING = _identify_drawing(RECEIPT_CLAIM.cte("claim"))


def identify_drawing_id(session: Session, number: str | None) -> Identified:
    """Draw the next alert id and find the caller's line, assignment and file (R-20)."""
    row = session.connection().execute(_IDENTIFY_DRAWING, {"number": number}).one()
    return int(row[0]), caller_from(row[1:])


# SQLite: the id it gives the next alert (``next_alert_id``), read by the claims below too.
_NEXT_ALERT_ID = select(func.coalesce(func.max(_ALERTS.c.id), 0) + 1)

# SQLite: the claim returns, beside the receipt's id, the id SQLite gives the next alert
# and the caller's columns, as one JSON array (a subquery of ``RETURNING`` returns one
# value; from a CTE, whose joins SQLAlchemy writes out in full, as it does not inside
# ``RETURNING``). The INSERT takes the write lock in the statement that reads them: no
# other writer can insert an alert before this transaction ends.
_IDENTIFIED = (
    _identify_drawing()
    .with_only_columns(
        func.json_array(
            _NEXT_ALERT_ID.scalar_subquery(),
            *CALLER_COLUMNS,
        ).label("found")
    )
    .cte("identified")
)
_SQLITE_CLAIMING = (
    _receipt_claim(sqlite_insert)
    .add_cte(_IDENTIFIED)
    .returning(select(_IDENTIFIED.c.found).scalar_subquery())
)


class IdentifyingClaim:
    """A voice webhook's receipt claimed and its caller identified by one statement.

    An incoming call that opens an alert: ``alerts.answer_once`` calls it in place of its
    own claim (``receipt_claim``), and ``open_alert`` then takes ``found`` (the alert's
    id, its caller) instead of identifying the caller again. PostgreSQL draws the id from
    the alerts' sequence; a repeated webhook's claim returns no receipt id and the
    identification is dropped, its drawn id with it (a gap, as a rollback leaves). SQLite
    returns nothing for a repeated webhook, and for a first one the next free id, taken
    after the alerts its batch drew before (``batch_rows.draw_key``).

    Made before its unit with the receipt's ``key`` and ``answer``
    (``dispatch.prepare_call``), it can be claimed with its batch's other calls
    (``claim_together``): it then answers from that statement's row, with no statement.
    """

    def __init__(self, number: str | None, *, key: str, answer: str) -> None:
        self.number = number
        self.key, self.answer = key, answer  # the receipt's, known before the unit
        self.found: Identified | None = None
        # Claimed with its batch's other calls (``claim_together``). Set again, or cleared,
        # by each attempt.
        self.ahead: ClaimedAhead | None = None

    def __call__(self, session: Session, params: dict[str, Any]) -> int | None:
        if self.ahead is not None and params["key"] == self.key:
            self.found = self.ahead.identified(session), self.ahead.caller
            return self.ahead.receipt_id
        connection = session.connection()
        params = {**params, "number": self.number}
        if connection.dialect.name != "postgresql":
            return self._claim_sqlite(session, connection.execute(_SQLITE_CLAIMING, params))
        row = connection.execute(_CLAIM_IDENTIFYING, params).one()
        receipt_id, drawn = row[0], row[1]
        self.found = int(drawn), caller_from(row[2:])
        return None if receipt_id is None else int(receipt_id)

    def _claim_sqlite(self, session: Session, result: CursorResult[Any]) -> int | None:
        row = result.first()
        if row is None:  # claimed by an earlier delivery of the same webhook
            return None
        receipt_id, found = tuple(row)
        first_free, *caller = json.loads(found)
        self.found = batch_rows.draw_key(session, _ALERTS, first_free), caller_from(caller)
        return int(receipt_id)


@dataclass(frozen=True, slots=True)
class ClaimedAhead:
    """What a call's claim made with its batch's others found (``claim_together``).

    The receipt's id (None: claimed before) and the caller. The alert's id: drawn by the
    claim on PostgreSQL (``alert_id``); on SQLite, drawn when the call's unit runs, after
    the alerts its batch drew before it (``batch_rows.draw_key``), from the alerts' next
    free id as the claim read it (``first_free``). An alert the batch inserted since then
    by the database's key (a canary's, inserted at once) may have taken that one: it is
    then read again (``batch_rows.keyed_by_database``).
    """

    receipt_id: int | None
    caller: Caller | None
    alert_id: int | None = None
    first_free: int = 0
    keyed_by_database: int = 0

    def identified(self, session: Session) -> int:
        """The alert's id, drawn in the unit's turn on SQLite."""
        if self.alert_id is not None:
            return self.alert_id
        if batch_rows.keyed_by_database(session) != self.keyed_by_database:
            return next_alert_id(session)
        return batch_rows.draw_key(session, _ALERTS, self.first_free)


def _sqlite_claiming_together() -> Insert:
    # SQLite: the batch's calls as one JSON array (``json_each``: one statement compiled
    # once, whatever the batch's size). Each call's receipt that was not there returns
    # its id, its key and, as ``IdentifyingClaim``'s one statement does, the alerts' next
    # free id and the caller's columns as one JSON array (a subquery of ``RETURNING``).
    # A call whose receipt was there returns no row: its unit claims alone, and replays.
    given = func.json_each(bindparam("calls")).table_valued("key", "value")
    calls = select(
        func.json_extract(given.c.value, "$[0]").label("key"),
        func.json_extract(given.c.value, "$[1]").label("answer"),
        func.json_extract(given.c.value, "$[2]").label("number"),
        given.c.key.label("ord"),
    ).cte("calls")
    first_free = _NEXT_ALERT_ID.scalar_subquery()
    identified = _caller_joins(
        select(
            calls.c.key.label("call_key"),
            func.json_array(first_free, *CALLER_COLUMNS).label("found"),
        )
        .select_from(calls)
        .outerjoin(Line, Line.msisdn == calls.c.number)
    ).cte("identified_calls")
    rows = (
        select(
            calls.c.key,
            calls.c.answer,
            literal("text/xml"),
            bindparam("at", type_=_RECEIPTS.c.created_at.type),
        )
        .where(true())  # SQLite: ``ON CONFLICT`` after ``SELECT … FROM`` needs a WHERE
        .order_by(calls.c.ord)
    )
    # The receipt's key spelled out: inside ``RETURNING`` SQLAlchemy names columns bare.
    receipt_key: ColumnClause[str] = literal_column(f'{_RECEIPTS.name}."key"')
    found = select(identified.c.found).where(identified.c.call_key == receipt_key)
    return cast(
        Insert,
        sqlite_insert(_RECEIPTS)
        .from_select(["key", "response_body", "content_type", "created_at"], rows)
        .on_conflict_do_nothing(index_elements=[_RECEIPTS.c.key])
        .returning(_RECEIPTS.c.id, _RECEIPTS.c.key, found.scalar_subquery())
        .add_cte(calls, identified),
    )


_SQLITE_CLAIMING_TOGETHER = _sqlite_claiming_together()


def _claiming_together() -> Select:  # type: ignore[type-arg]
    # PostgreSQL: ``IdentifyingClaim``'s statement for many calls, their keys, answers and
    # numbers as arrays (one statement compiled once, whatever the batch's size). The
    # caller's line is looked up for each call as for one (a lateral subquery, LIMIT 1);
    # a call whose receipt was there already finds no claimed row by its key.
    given = (
        func.unnest(
            bindparam("keys", type_=ARRAY(Text)),
            bindparam("answers", type_=ARRAY(Text)),
            bindparam("numbers", type_=ARRAY(Text)),
        )
        .table_valued("key", "answer", "number", with_ordinality="ord")
        .render_derived("given")
    )
    calls = select(given.c.key, given.c.answer, given.c.number, given.c.ord).cte("calls")
    claim = (
        pg_insert(_RECEIPTS)
        .from_select(
            ["key", "response_body", "content_type", "created_at"],
            select(
                calls.c.key,
                calls.c.answer,
                literal("text/xml"),
                bindparam("at", type_=_RECEIPTS.c.created_at.type),
            ).order_by(calls.c.ord),
        )
        .on_conflict_do_nothing(index_elements=[_RECEIPTS.c.key])
        .returning(_RECEIPTS.c.id, _RECEIPTS.c.key)
        .cte("claim")
    )
    caller = (
        with_caller_columns(
            select(*CALLER_COLUMNS).select_from(Line).where(Line.msisdn == calls.c.number)
        )
        .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
        .lateral("caller")
    )
    return (
        select(claim.c.id, func.nextval(func.pg_get_serial_sequence("alerts", "id")), *caller.c)
        .select_from(calls)
        .outerjoin(claim, claim.c.key == calls.c.key)
        .outerjoin(caller, true())
        .order_by(calls.c.ord)
    )


_CLAIMING_TOGETHER = _claiming_together()


def claim_together(
    session: Session, claims: Sequence[IdentifyingClaim], *, at: datetime, run: bool = True
) -> None:
    """Claim the receipts of a gateway batch's calls by one statement.

    Each call's claim was one statement of its own, a round trip the whole batch waited
    for, then a wait for the GIL (docs/gateway.md). Here the writer claims them together
    before running the batch's units, and each unit's claim then answers from what this
    one found (``IdentifyingClaim.ahead``), as if it had run alone: the receipt's id, or
    None for a webhook claimed before, the caller's line, and the alert's id (drawn here
    on PostgreSQL, in the unit's turn on SQLite: ``ClaimedAhead``).

    Every claim's earlier result is cleared first (an attempt rolled back loses its
    claims); with ``run`` False, or for fewer than two calls, that is all and each unit
    claims alone. A key twice in the batch (one webhook delivered twice at once) is
    claimed here once: its second unit claims alone, finds it taken by the first, and
    replays that answer. So does, on SQLite, a webhook whose receipt was there before.
    """
    for claim in claims:
        claim.ahead = None
    first: dict[str, IdentifyingClaim] = {}
    for claim in claims:
        first.setdefault(claim.key, claim)
    together = list(first.values())
    if not run or len(together) < 2:
        return
    if draws_ids(session):
        _claim_together_drawing(session, together, at=at)
    else:
        _claim_together_sqlite(session, together, at=at)


def _claim_together_drawing(
    session: Session, together: list[IdentifyingClaim], *, at: datetime
) -> None:
    # PostgreSQL: a row for every call, in order; its receipt's id NULL if claimed before.
    params = {
        "keys": [claim.key for claim in together],
        "answers": [claim.answer for claim in together],
        "numbers": [claim.number for claim in together],
        "at": at,
    }
    rows = session.connection().execute(_CLAIMING_TOGETHER, params).all()
    for claim, row in zip(together, rows, strict=True):
        receipt_id = None if row[0] is None else int(row[0])
        claim.ahead = ClaimedAhead(receipt_id, caller_from(tuple(row[2:])), alert_id=int(row[1]))


def _claim_together_sqlite(
    session: Session, together: list[IdentifyingClaim], *, at: datetime
) -> None:
    # SQLite: a row for every receipt claimed, by key, in no promised order.
    calls = json.dumps([[claim.key, claim.answer, claim.number] for claim in together])
    rows = session.connection().execute(_SQLITE_CLAIMING_TOGETHER, {"calls": calls, "at": at})
    claimed = {key: (int(receipt_id), found) for receipt_id, key, found in rows}
    keyed = batch_rows.keyed_by_database(session)
    for claim in together:
        if claim.key not in claimed:  # there before: the unit's own claim finds it, replays
            continue
        receipt_id, found = claimed[claim.key]
        first_free, *caller = json.loads(found)
        claim.ahead = ClaimedAhead(
            receipt_id, caller_from(caller), first_free=int(first_free), keyed_by_database=keyed
        )


def _insert_all(*, with_key: bool) -> Insert:
    # Every column of the alert is written: one the database alone would fill (a server
    # default without a Python one) would be written NULL here. None has one today.
    for column in _ALERTS.c:
        if column.server_default is not None and column.default is None:
            raise RuntimeError(f"alerts.{column.name}: give it a Python default (alert_rows)")
    alert_values = prefixed_values(_ALERTS, "a_", tuple(column.name for column in _ALERTS.c))
    ctes = []
    if with_key:  # an unidentified caller's key: the alert refers to it, it returns its id
        new_key = vault.key_insert_statement("k_").returning(vault.KEY_ID).cte("new_key")
        alert_values["data_key_id"] = select(new_key.c.id).scalar_subquery()
        ctes.append(new_key)
    ctes.append(insert(_ALERTS).values(alert_values).cte("new_alert"))
    ctes.append(prefixed_insert(_LEGS, "l_", LEG_COLUMNS).cte("new_leg"))
    ctes.append(events.insert_statement("e_").cte("new_event"))
    statement = audit.insert_statement("u_").add_cte(*ctes)
    if with_key:
        statement = statement.returning(select(ctes[0].c.id).scalar_subquery())
    return statement


# Built once: a data-modifying CTE per table, the audit entry the main statement. The
# leg's foreign key to its alert (and the alert's to its key) is checked at the end of
# the statement, by then inserted.
_INSERT_ALL = _insert_all(with_key=False)
_INSERT_ALL_WITH_KEY = _insert_all(with_key=True)


def alert_to_insert(values: dict[str, Any]) -> Alert:
    """A new alert for ``insert_at_once``, its ``values`` put in its state as a load does.

    Not through the constructor: it sets each value through the attributes'
    instrumentation (an event and a history entry each), which ``_make_persistent`` then
    throws away: a seventh of a call's unit's CPU in the gateway writer (docs/gateway.md).
    Only for ``insert_at_once``, which writes every column from the state: the ORM's flush
    would find nothing to insert in an alert made so.
    """
    alert: Alert = manager_of_class(Alert).new_instance()
    alert.__dict__.update(values)
    return alert


def insert_at_once(
    session: Session,
    alert: Alert,
    *,
    leg: dict[str, Any],
    event: dict[str, Any],
    entry: dict[str, Any],
    new_key: dict[str, Any] | None = None,
) -> None:
    """Insert ``alert`` (its id drawn), its leg, event and audit entry in one statement.

    SQLite has no data-modifying CTE: there the rows go in by statements built once,
    with the gateway batch's other rows when there is one (``_insert_collected``). So do
    PostgreSQL's in a gateway batch of several calls: one statement per table for the
    batch's alerts, not one per alert (each a round trip the batch waits for).

    ``leg``, ``event`` and ``entry`` are their rows' values (``LEG_COLUMNS``,
    ``events.EVENT_COLUMNS``, ``audit.entry_values``); every column of ``alert`` is
    written, unset ones as NULL. ``new_key``: the values of the alert's own data key
    (``vault.new_key``), inserted by the same statement, and the alert's ``data_key_id``
    set to it. The alert is persistent in the session afterwards, as if loaded; the event
    is noted for the console hub.
    """
    if not draws_ids(session) or batch_rows.several_units(session):
        _insert_collected(session, alert, leg=leg, event=event, entry=entry, new_key=new_key)
        return
    params = {"a_" + name: value for name, value in _row_values(alert).items()}
    params.update({"l_" + name: leg[name] for name in LEG_COLUMNS})
    params.update({"e_" + name: event[name] for name in events.EVENT_COLUMNS})
    params.update({"u_" + name: entry[name] for name in audit.ENTRY_COLUMNS})
    if new_key is None:
        session.connection().execute(_INSERT_ALL, params)
    else:
        params.update({"k_" + name: value for name, value in new_key.items()})
        del params["a_data_key_id"]
        result = session.connection().execute(_INSERT_ALL_WITH_KEY, params)
        alert.data_key_id = int(result.scalar_one())
    _make_persistent(session, alert)
    note_inserted(session)


_INSERT_ALERT = insert(_ALERTS)
INSERT_LEG = insert(_LEGS)  # a caller's leg: one statement, so one group in a batch


def _insert_collected(
    session: Session,
    alert: Alert,
    *,
    leg: dict[str, Any],
    event: dict[str, Any],
    entry: dict[str, Any],
    new_key: dict[str, Any] | None,
) -> None:
    """``insert_at_once``'s rows, each by a statement built once, with the batch's.

    SQLite's always, PostgreSQL's in a gateway batch of several calls (their ids drawn
    from the sequence by their claims).

    In a gateway batch the alert, its leg, its event and its entry go in with the other
    units' (``tgd.db.batch_rows``): a batch of twenty calls makes one INSERT of alerts, not
    twenty. Nothing in the batch reads an alert back by a statement of its own: the
    claims read the largest id (``IdentifyingClaim`` draws after the batch's), and an ORM
    flush or query inserts the collected rows first. A new data key goes in at once: the
    alert's row carries its id.
    """
    if new_key is not None:
        alert.data_key_id = vault.insert_key(session, new_key)
    batch_rows.insert(session, _INSERT_ALERT, [_row_values(alert)])
    batch_rows.insert(session, INSERT_LEG, [leg])
    events.insert_now(session, event)
    audit.insert_now(session, entry)
    _make_persistent(session, alert)


def insert_alert(session: Session, alert: Alert) -> None:
    """Insert ``alert`` alone, without the ORM's flush; its id given by the database if unset.

    A canary's or a refused call's (``open_alert``), and SQLite's without a claim. Every
    column is written as in ``insert_at_once``, and the alert is persistent in the session
    afterwards: a later change to it is an ``UPDATE`` at the next flush. The alerts its
    gateway batch collected go in first: the id the database gives is not one of theirs.
    """
    values = _row_values(alert)
    if values["id"] is None:
        del values["id"]
        batch_rows.insert_pending(session)
        batch_rows.note_keyed_by_database(session)
    inserted = session.connection().execute(_INSERT_ALERT, values).inserted_primary_key
    if inserted is None:  # never for one row; an alert without its id must not go on
        raise RuntimeError("alerts: the insert gave no id")
    alert.id = int(inserted[0])
    _make_persistent(session, alert)


def next_alert_id(session: Session) -> int:
    """The id SQLite gives the next alert it inserts: one more than the largest.

    Only inside a transaction that keeps every other writer out until it ends
    (``writes.excludes_other_writers``): then no other alert can take it first. The
    alerts' key is SQLite's rowid without ``AUTOINCREMENT``, which is chosen so.
    """
    first_free = int(session.connection().execute(_NEXT_ALERT_ID).scalar_one())
    return batch_rows.draw_key(session, _ALERTS, first_free)  # after its batch's, if any


def _row_values(alert: Alert) -> dict[str, Any]:
    """Every column of ``alert`` by name, unset ones with what the ORM's flush would fill.

    Each value is put in the alert's state too: loaded, even when None, so that reading
    it later asks nothing of the database. Put there as a load does, not through the
    attributes' instrumentation (fifty columns, each an event and a history entry that
    ``_make_persistent`` then commits at once).
    """
    values: dict[str, Any] = {}
    loaded = alert.__dict__  # the instance's state: what the ORM counts as loaded
    for column in _ALERTS.c:
        value = loaded.get(column.key)
        if value is None and column.default is not None:
            default = cast(Any, column.default)
            value = default.arg(None) if default.is_callable else default.arg
        loaded[column.key] = value
        values[column.name] = value
    return values


def _make_persistent(session: Session, alert: Alert) -> None:
    # The row is in the database: the alert becomes persistent as if loaded, no query.
    make_transient_to_detached(alert)
    session.add(alert)
