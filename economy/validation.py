"""Parsing and bounds of amounts anyone may propose, approve or adjust."""

from decimal import Decimal, InvalidOperation

from directorate.errors import Invalid
from economy.rates import CENT, MAX_CREDITS, MAX_HOURS, MAX_PAY


def parse_credits(value, *, field="credits", allow_negative=False):
    if isinstance(value, bool):
        raise Invalid("Credits must be a whole number.", field_errors={field: ["Must be a whole number."]})
    try:
        text = str(value).strip()
        credits = int(text)
    except (TypeError, ValueError):
        raise Invalid("Credits must be a whole number.", field_errors={field: ["Must be a whole number."]}) from None
    low = -MAX_CREDITS if allow_negative else 0
    if not low <= credits <= MAX_CREDITS:
        message = f"Must be between {low} and {MAX_CREDITS}."
        raise Invalid(f"Credits out of range: {message}", field_errors={field: [message]})
    return credits


def parse_money(value, *, field="pay", allow_negative=False, maximum=MAX_PAY):
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, TypeError, ValueError):
        raise Invalid(
            "Pay must be an amount such as 12.50.", field_errors={field: ["Must be an amount such as 12.50."]}
        ) from None
    if not amount.is_finite():
        raise Invalid("Pay must be a finite amount.", field_errors={field: ["Must be a finite amount."]})
    # The range comes first: quantizing an absurd amount (1e30) raises InvalidOperation instead of refusing it.
    low = -maximum if allow_negative else Decimal("0")
    if not low <= amount <= maximum:
        message = f"Must be between {low} and {maximum}."
        raise Invalid(f"Pay out of range: {message}", field_errors={field: [message]})
    if amount != amount.quantize(CENT) or amount.as_tuple().exponent < -2:
        raise Invalid("Pay has at most two decimals.", field_errors={field: ["At most two decimals."]})
    return amount.quantize(CENT)


def parse_hours(value, *, field="hours_worked"):
    hours = parse_money(value, field=field, maximum=MAX_HOURS)
    if hours <= 0:
        raise Invalid("Hours worked must be more than 0.", field_errors={field: ["Must be more than 0."]})
    return hours
