"""Line money math (app/catalog/pricing.py): each line rounded to 2 places half-up;
tax computed from the net for tax-exclusive prices and extracted from the gross for
tax-inclusive (含税) ones; documents sum rounded lines."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest

from app.catalog.pricing import LineAmounts, line_amounts, round_money, total

D = Decimal

CASES = [
    # quantity, unit price, tax rate, inclusive, discount %, (net, tax, gross)
    ("1", "113.00", "0.13", True, "0", ("100.00", "13.00", "113.00")),  # 含税 extraction
    ("1", "100", "0.13", False, "0", ("100.00", "13.00", "113.00")),
    ("10", "11.3", "0.13", True, "0", ("100.00", "13.00", "113.00")),
    ("3", "0.335", "0", False, "0", ("1.01", "0.00", "1.01")),  # 1.005: half-up, not even
    ("1", "0.05", "0.13", False, "0", ("0.05", "0.01", "0.06")),  # tax 0.0065 -> 0.01
    ("1", "10.00", "0.13", True, "0", ("8.85", "1.15", "10.00")),  # 8.849557...
    ("1", "1.00", "0.06", True, "0", ("0.94", "0.06", "1.00")),  # 0.943396...
    ("1", "0.01", "0.13", True, "0", ("0.01", "0.00", "0.01")),  # 0.00885 -> 0.01
    ("1", "0.20", "0.6", True, "0", ("0.13", "0.07", "0.20")),  # net exactly 0.125
    ("3", "33.33", "0.13", False, "10", ("89.99", "11.70", "101.69")),  # 89.991; 11.6987
    ("3", "33.33", "0.13", True, "10", ("79.64", "10.35", "89.99")),  # 79.6380...
    ("7", "99.99", "0.13", False, "100", ("0.00", "0.00", "0.00")),
    ("2.5", "19.99", "0.09", True, "0", ("45.85", "4.13", "49.98")),  # 49.975 -> 49.98
    ("7", "0.1234", "0.13", True, "0", ("0.76", "0.10", "0.86")),  # 0.8638
    ("5", "1.99", "0", True, "0", ("9.95", "0.00", "9.95")),
    ("0.0001", "0.0001", "0.13", False, "0", ("0.00", "0.00", "0.00")),
    ("1", "1", "0.13", False, "33.3333", ("0.67", "0.09", "0.76")),  # 0.666667; 0.0871
    ("-3", "0.335", "0", False, "0", ("-1.01", "0.00", "-1.01")),  # a credit mirrors the sale
    ("-1", "113.00", "0.13", True, "0", ("-100.00", "-13.00", "-113.00")),
    # No overflow, no float: 14-digit quantities times 14-digit prices stay exact.
    ("99999999999999.9999", "99999999999999.9999", "0.13", False, "0",
     ("9999999999999999980000000000.00", "1299999999999999997400000000.00",
      "11299999999999999977400000000.00")),
]  # fmt: skip


@pytest.mark.parametrize(("quantity", "price", "rate", "inclusive", "discount", "expected"), CASES)
def test_line_amounts(quantity, price, rate, inclusive, discount, expected):
    amounts = line_amounts(
        D(quantity), D(price), tax_rate=D(rate), tax_inclusive=inclusive,
        discount_percent=D(discount),
    )  # fmt: skip
    assert (str(amounts.net), str(amounts.tax), str(amounts.gross)) == expected
    assert amounts.net + amounts.tax == amounts.gross


def test_documents_sum_rounded_lines():
    lines = [line_amounts(D(1), D("0.335"), tax_rate=D(0), tax_inclusive=False)] * 3
    assert total(lines) == LineAmounts(D("1.02"), D("0.00"), D("1.02"))  # not round(1.005)
    assert total([]) == LineAmounts(D("0.00"), D("0.00"), D("0.00"))
    big = line_amounts(D("99999999999999"), D("99999999999999"), tax_rate=D("0.13"),
                       tax_inclusive=False)  # fmt: skip
    assert str(total([big, big]).gross) == "22599999999999548000000000002.26"  # exact


def test_round_money_is_half_up_away_from_zero():
    assert [str(round_money(D(v))) for v in ("0.005", "0.015", "0.025", "-0.005", "2.675")] == [
        "0.01", "0.02", "0.03", "-0.01", "2.68"
    ]  # fmt: skip


def test_invariants_over_many_values():
    """For a spread of awkward values: two places everywhere, net + tax = gross, the
    gross of an inclusive line is exactly its rounded extended amount, and the tax of
    an exclusive line is the rounded tax of its net."""
    rng = random.Random(5)
    rates = [D(r) for r in ("0", "0.03", "0.06", "0.09", "0.13", "0.1234", "0.9999")]
    for _ in range(3000):
        quantity = D(rng.randint(1, 10**8)) / D(10**4)
        price = D(rng.randint(1, 10**9)) / D(10**4)
        discount = D(rng.choice([0, 0, 5, 12.5, 33.3333, 99.99]))
        rate = rng.choice(rates)
        extended = quantity * price * (100 - discount) / 100
        for inclusive in (True, False):
            a = line_amounts(
                quantity, price, tax_rate=rate, tax_inclusive=inclusive, discount_percent=discount
            )
            assert all(v.as_tuple().exponent == -2 for v in (a.net, a.tax, a.gross))
            assert a.net + a.tax == a.gross
            if inclusive:
                assert a.gross == extended.quantize(D("0.01"), ROUND_HALF_UP)
                # the net is the gross without tax, to the cent
                assert abs(a.net * (1 + rate) - a.gross) <= D("0.005") * (1 + rate)
            else:
                assert a.net == extended.quantize(D("0.01"), ROUND_HALF_UP)
                assert a.tax == (a.net * rate).quantize(D("0.01"), ROUND_HALF_UP)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quantity": 1.5},
        {"unit_price": D("-1")},
        {"tax_rate": D("1")},
        {"tax_rate": D("-0.01")},
        {"discount_percent": D("100.01")},
        {"discount_percent": D("-1")},
        {"unit_price": D("NaN")},
        {"quantity": D("Infinity")},
    ],
    ids=str,
)
def test_refuses_what_is_not_money(kwargs):
    values = {"quantity": D(1), "unit_price": D(1), "tax_rate": D("0.13"), **kwargs}
    with pytest.raises(ValueError):
        line_amounts(
            values["quantity"], values["unit_price"], tax_rate=values["tax_rate"],
            tax_inclusive=False, discount_percent=values.get("discount_percent", D(0)),
        )  # fmt: skip
