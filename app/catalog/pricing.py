"""Line money math, the same for quotes, orders, invoices and credits: pure functions
on Decimal, never float.

The rule (written once, here):

1. The line's extended amount is exact:
   `quantity x unit_price x (1 - discount_percent / 100)` (no rounding yet).
2. Each line is rounded to 2 decimal places, half-up (ties away from zero, so a
   credit line is the exact negative of its sale), and only then summed into
   document totals: a document total is the sum of its rounded lines, never a
   rounding of unrounded sums (what the customer sees on each line adds up).
3. Tax-exclusive prices (不含税): `net = round(extended)`,
   `tax = round(net x tax_rate)`, `gross = net + tax`.
   Tax-inclusive prices (含税): the rounded extended amount is the gross, and tax is
   extracted from it: `gross = round(extended)`, `net = round(gross / (1 + tax_rate))`,
   `tax = gross - net`. So the price the customer agreed is exactly what they pay, and
   net + tax = gross on every line in both cases (113.00 at 13 % is net 100.00 and
   tax 13.00).

`tax_rate` is a fraction (0.13 for 13 %), as products store it; the discount is a
percentage (0-100), as users type it. Amounts are in the line's currency; rounding is
to 2 places whatever the currency (a currency with 0 or 3 minor digits is not yet
special-cased).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# Exact intermediate products: 18-digit quantities times 18-digit prices and a
# discount fit easily; the default context (28 digits) could round them.
EXACT = Context(prec=80, rounding=ROUND_HALF_UP)


def round_money(value: Decimal) -> Decimal:
    """2 places, half-up (ties away from zero); never a negative zero."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal  # tax-exclusive amount
    tax: Decimal
    gross: Decimal  # tax-inclusive amount: net + tax

    def __add__(self, other: LineAmounts) -> LineAmounts:
        with localcontext(EXACT):  # the default 28 digits could round a large sum
            return LineAmounts(self.net + other.net, self.tax + other.tax, self.gross + other.gross)


ZERO = LineAmounts(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def _check(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, not {value!r}")


def line_amounts(
    quantity: Decimal,
    unit_price: Decimal,
    *,
    tax_rate: Decimal,
    tax_inclusive: bool,
    discount_percent: Decimal = Decimal(0),
) -> LineAmounts:
    """Net, tax and gross of one line, each rounded to 2 places by the rule above.
    Quantities may be negative (returns, credits); prices and rates may not."""
    for name, value in (
        ("quantity", quantity), ("unit_price", unit_price), ("tax_rate", tax_rate),
        ("discount_percent", discount_percent),
    ):  # fmt: skip
        _check(name, value)
    if unit_price < 0:
        raise ValueError("unit_price must not be negative")
    if not Decimal(0) <= tax_rate < Decimal(1):
        raise ValueError("tax_rate is a fraction from 0 to below 1 (0.13 is 13 %)")
    if not Decimal(0) <= discount_percent <= HUNDRED:
        raise ValueError("discount_percent must be from 0 to 100")
    with localcontext(EXACT):
        extended = quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED
        if tax_inclusive:
            gross = round_money(extended)
            net = round_money(gross / (1 + tax_rate))
            return LineAmounts(net, gross - net, gross)
        net = round_money(extended)
        tax = round_money(net * tax_rate)
        return LineAmounts(net, tax, net + tax)


def total(lines: Iterable[LineAmounts]) -> LineAmounts:
    """A document's totals: the sums of its rounded lines."""
    result = ZERO
    for line in lines:
        result = result + line
    return result
