"""The purchase order state machine, in one place. Pure: no database here.

    draft              --edit-->    draft
    draft              --send-->    sent
    draft, sent        --cancel-->  cancelled
    sent               --receive--> partially_received or received
    partially_received --receive--> partially_received or received
    partially_received --close-->   closed

- `edit` (updatePurchaseOrder) keeps a draft a draft; nothing else may be edited.
- `send` commits the order to the supplier: draft -> sent.
- `cancel`: from draft or sent only. Once anything has been received (partially
  received, received) an order cannot be cancelled: the goods are in stock.
- `receive` (a goods receipt): from sent or partially received; the order becomes
  received when every line has all its quantity, else partially received
  (`receive_target`).
- `close` (结案, a short-close): a partially received order whose remainder will never
  come is closed with a reason; what was received stays, the rest is no longer on
  order. A sent order with nothing received is not closed but cancelled (the same
  outcome, and cancel already says so); a draft has nothing to close.
- received, cancelled and closed are final.

Every service function asks `ensure_allowed` / `transition` before it writes;
anything not in `TRANSITIONS` is refused with INVALID_TRANSITION on the field
`status`, before anything was written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal

from app.errors import fail


class Status(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class Action(enum.StrEnum):
    EDIT = "edit"
    SEND = "send"
    CANCEL = "cancel"
    RECEIVE = "receive"
    CLOSE = "close"


S, A = Status, Action

# (current status, action) -> the statuses the action may lead to. Nothing else is
# allowed.
TRANSITIONS: dict[tuple[Status, Action], frozenset[Status]] = {
    (S.DRAFT, A.EDIT): frozenset({S.DRAFT}),
    (S.DRAFT, A.SEND): frozenset({S.SENT}),
    (S.DRAFT, A.CANCEL): frozenset({S.CANCELLED}),
    (S.SENT, A.CANCEL): frozenset({S.CANCELLED}),
    (S.SENT, A.RECEIVE): frozenset({S.PARTIALLY_RECEIVED, S.RECEIVED}),
    (S.PARTIALLY_RECEIVED, A.RECEIVE): frozenset({S.PARTIALLY_RECEIVED, S.RECEIVED}),
    (S.PARTIALLY_RECEIVED, A.CLOSE): frozenset({S.CLOSED}),
}

# Why each refused action is refused, in words a buyer understands.
_REFUSALS: dict[Action, str] = {
    A.EDIT: "only a draft purchase order can be changed",
    A.SEND: "only a draft purchase order can be sent",
    A.CANCEL: "only a draft or sent purchase order can be cancelled; once goods have been "
    "received it cannot",
    A.RECEIVE: "goods can be received only against a sent or partially received purchase order",
    A.CLOSE: "only a partially received purchase order can be closed; one with nothing "
    "received is cancelled instead",
}
_VERBS: dict[Action, str] = {
    A.EDIT: "be changed",
    A.SEND: "be sent",
    A.CANCEL: "be cancelled",
    A.RECEIVE: "receive goods",
    A.CLOSE: "be closed",
}
_LABELS = {
    S.DRAFT: "a draft",
    S.SENT: "a sent",
    S.PARTIALLY_RECEIVED: "a partially received",
    S.RECEIVED: "a received",
    S.CANCELLED: "a cancelled",
    S.CLOSED: "a closed",
}


def allowed(current: str, action: str) -> frozenset[Status]:
    return TRANSITIONS.get((Status(current), Action(action)), frozenset())


def ensure_allowed(current: str, action: str) -> frozenset[Status]:
    """The statuses `action` may lead to from `current`; INVALID_TRANSITION on `status`
    when there are none (the action is not allowed at all)."""
    targets = allowed(current, action)
    if not targets:
        raise fail(
            "status", "INVALID_TRANSITION",
            f"{_LABELS[Status(current)]} purchase order cannot {_VERBS[Action(action)]}: "
            f"{_REFUSALS[Action(action)]}",
        )  # fmt: skip
    return targets


def transition(current: str, action: str, target: str | None = None) -> Status:
    """The status `action` leads to from `current` (`target` when the action may lead
    to several); INVALID_TRANSITION on `status` when it is not allowed."""
    targets = ensure_allowed(current, action)
    if target is None:
        if len(targets) != 1:
            raise ValueError(f"{action} from {current}: name the target")
        (only,) = targets
        return only
    if Status(target) not in targets:
        raise fail("status", "INVALID_TRANSITION",
                   f"{_LABELS[Status(current)]} purchase order cannot become {target}")  # fmt: skip
    return Status(target)


def receive_target(lines: Iterable[tuple[Decimal, Decimal]]) -> Status:
    """After a receipt: received when every line (ordered, received) has all of it."""
    return (
        S.RECEIVED
        if all(received >= ordered for ordered, received in lines)
        else S.PARTIALLY_RECEIVED
    )
