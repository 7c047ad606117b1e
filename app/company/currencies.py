"""ISO 4217 currency codes a business may trade in: the current national and regional
currencies (2025 list). Left out on purpose: precious metals (XAU, XAG, XPD, XPT),
bond-market units (XBA-XBD), the SDR (XDR), fund codes (BOV, CHE, CHW, CLF, COU, MXV,
USN, UYI, UYW), XSU, XUA, and the testing / "no currency" codes XTS and XXX."""

from __future__ import annotations

from app.errors import UserError

ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)


def normalise_currency(
    value: str | None, field: str = "currency"
) -> tuple[str | None, UserError | None]:
    """An ISO 4217 code, stored upper-case ("usd" becomes "USD"); anything else,
    including well-formed codes no one uses ("ABC"), is INVALID on `field`."""
    code = (value or "").strip().upper()
    if code not in ISO_4217:
        return None, UserError(
            field, "INVALID", f"{field} must be an ISO 4217 currency code, such as CNY or USD"
        )
    return code, None
