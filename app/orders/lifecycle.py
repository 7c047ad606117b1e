"""Every state transition of quotes and sales orders, in one place.

Each machine is a table: status -> {action: the status it leads to}. Anything not in
the table is refused with `INVALID_TRANSITION` on the field `status`, before anything
is written (the service calls `order_transition` / `quote_transition` right after
locking the row, so a refused action changes nothing). Guards that depend on more
than the status (an order that has shipped cannot be cancelled) are here too.

Sales orders (`status`):

    draft     --confirm--> confirmed   (credit check, stock reserved; app/orders/service.py)
    draft     --cancel-->  cancelled
    confirmed --cancel-->  cancelled   (only while nothing has shipped; reservations released)
    confirmed --close-->   closed      (short-close: what is still reserved is released)
    closed, cancelled: final.

Only a draft's fields and lines may be edited (`ensure_order_editable`).

Quotes: stored statuses are draft, sent, accepted, rejected and superseded; a sent
quote whose `valid_until` is before today (the tenant's calendar) *is* expired. No job
writes "expired": `quote_status` derives it wherever a quote is read, filtered or
changed, so accepting an expired quote is refused at accept time, and every reader
sees the same status on the same day.

    draft      --send-->    sent
    sent       --accept-->  accepted    (makes one draft sales order, in the same transaction)
    sent       --reject-->  rejected
    sent       --revise-->  superseded  (the next version is a new draft: revision n+1)
    expired    --revise-->  superseded  (renewing a lapsed offer)
    rejected   --revise-->  superseded  (a counter-offer)
    accepted, superseded: final. Only a draft may be edited.
"""

from __future__ import annotations

import datetime as dt

from app.errors import UserErrors, fail

ORDER_TRANSITIONS: dict[str, dict[str, str]] = {
    "draft": {"confirm": "confirmed", "cancel": "cancelled"},
    "confirmed": {"cancel": "cancelled", "close": "closed"},
    "closed": {},
    "cancelled": {},
}

QUOTE_TRANSITIONS: dict[str, dict[str, str]] = {
    "draft": {"send": "sent"},
    "sent": {"accept": "accepted", "reject": "rejected", "revise": "superseded"},
    "expired": {"revise": "superseded"},
    "rejected": {"revise": "superseded"},
    "accepted": {},
    "superseded": {},
}

_PAST = {
    "confirm": "confirmed",
    "cancel": "cancelled",
    "close": "closed",
    "send": "sent",
    "accept": "accepted",
    "reject": "rejected",
    "revise": "revised",
}


def _allowed_from(table: dict[str, dict[str, str]], action: str) -> list[str]:
    return [status for status, actions in table.items() if action in actions]


def _refuse(entity: str, current: str, action: str, table: dict[str, dict[str, str]],
            extra: str = "") -> UserErrors:  # fmt: skip
    allowed = _allowed_from(table, action)
    only = " or ".join(allowed) if allowed else "none"
    message = f"a {current} {entity} cannot be {_PAST[action]} (only {only})"
    return fail("status", "INVALID_TRANSITION", message + extra)


def order_transition(current: str, action: str, *, shipped: bool = False) -> str:
    """The status a sales order in `current` gets by `action`, or INVALID_TRANSITION.
    `shipped`: whether any line has shipped (cancel is refused then: close it)."""
    target = ORDER_TRANSITIONS[current].get(action)
    if target is None:
        raise _refuse("sales order", current, action, ORDER_TRANSITIONS)
    if action == "cancel" and shipped:
        raise fail(
            "status",
            "INVALID_TRANSITION",
            "this sales order has shipped goods, so it cannot be cancelled; close it instead "
            "(returns go through a sales return)",
        )
    return target


def ensure_order_editable(current: str) -> None:
    if current != "draft":
        raise fail(
            "status",
            "NOT_EDITABLE",
            f"a {current} sales order cannot be changed; only a draft can",
        )


def quote_status(stored: str, valid_until: dt.date, today: dt.date) -> str:
    """The status a reader sees: a sent quote past its validity is expired."""
    if stored == "sent" and valid_until < today:
        return "expired"
    return stored


def quote_transition(current: str, action: str, *, valid_until: dt.date | None = None) -> str:
    """The stored status a quote in (effective) status `current` gets by `action`, or
    INVALID_TRANSITION."""
    target = QUOTE_TRANSITIONS[current].get(action)
    if target is None:
        extra = ""
        if current == "expired" and valid_until is not None:
            extra = f"; it expired after {valid_until.isoformat()}: revise it for a new version"
        raise _refuse("quote", current, action, QUOTE_TRANSITIONS, extra)
    return target


def ensure_quote_editable(current: str) -> None:
    if current != "draft":
        raise fail(
            "status",
            "NOT_EDITABLE",
            f"a {current} quote cannot be changed; only a draft can (revise a sent one)",
        )
