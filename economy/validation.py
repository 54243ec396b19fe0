"""Parsing and bounds of amounts anyone may propose, approve or adjust.

Amounts arrive as text from forms and JSON. Only plain ASCII numbers are accepted
("12", "-3", "12.50"): no exponents, underscores, other scripts' digits or special
values, so what a person typed is exactly what is stored.
"""

import re
from decimal import Decimal

from directorate.errors import Invalid
from economy.rates import CENT, MAX_CREDITS, MAX_HOURS, MAX_PAY

WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")
AMOUNT = re.compile(r"-?[0-9]{1,12}(\.[0-9]+)?")
DECIMAL_COMMA = re.compile(r"-?[0-9]{1,12},[0-9]{1,2}")


def parse_credits(value, *, field="credits", allow_negative=False):
    text = value if isinstance(value, str) else str(value) if type(value) is int else ""
    text = text.strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise Invalid("Credits must be a whole number.", field_errors={field: ["Must be a whole number."]})
    credits = int(text)
    low = -MAX_CREDITS if allow_negative else 0
    if not low <= credits <= MAX_CREDITS:
        message = f"Must be between {low} and {MAX_CREDITS}."
        raise Invalid(f"Credits out of range: {message}", field_errors={field: [message]})
    return credits


def parse_money(value, *, field="pay", allow_negative=False, maximum=MAX_PAY):
    text = value if isinstance(value, str) else str(value) if type(value) in (int, Decimal) else ""
    text = text.strip()
    if DECIMAL_COMMA.fullmatch(text):
        # Explained, not guessed: "1,250" is a thousand and more to some, a little over one to others.
        message = f"Write decimals with a point: {text.replace(',', '.')}, not {text}."
        raise Invalid(message, field_errors={field: [message]})
    if not AMOUNT.fullmatch(text):
        raise Invalid(
            "Pay must be an amount such as 12.50.", field_errors={field: ["Must be an amount such as 12.50."]}
        )
    amount = Decimal(text)
    low = -maximum if allow_negative else Decimal("0")
    if not low <= amount <= maximum:
        message = f"Must be between {low} and {maximum}."
        raise Invalid(f"Pay out of range: {message}", field_errors={field: [message]})
    if amount != amount.quantize(CENT):
        raise Invalid("Pay has at most two decimals.", field_errors={field: ["An amount has at most two decimals."]})
    return amount.quantize(CENT)


def parse_hours(value, *, field="hours_worked"):
    hours = parse_money(value, field=field, maximum=MAX_HOURS)
    if hours <= 0:
        raise Invalid("Hours worked must be more than 0.", field_errors={field: ["Must be more than 0."]})
    return hours
