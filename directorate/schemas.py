"""Schemas shared by every part of the JSON API: the one error shape, money, ids."""

from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import StrictInt, StrictStr

from directorate.money import CENT

MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"

# Money in responses: a string with exactly two decimals ("12.50"), never a float.
Money = Annotated[str, Field(pattern=MONEY_PATTERN, examples=["12.50"])]
# Amounts in requests: strings such as "12.50" (no floats); credits also as JSON integers.
MoneyIn = Annotated[StrictStr, Field(max_length=40, examples=["12.50"])]
CreditsIn = Annotated[StrictInt | StrictStr, Field(examples=[5])]


def money(value):
    """A Decimal (or int) as the API shows money: a string with two decimals."""
    return format(Decimal(value).quantize(CENT), "f")


class ErrorOut(Schema):
    """Every refusal: what went wrong, a stable code, and the messages per field (empty when none)."""

    detail: str
    code: str = Field(examples=["invalid", "not_authenticated", "forbidden", "not_found", "conflict", "throttled"])
    errors: dict[str, list[str]] = Field(default_factory=dict)


def errors(*statuses):
    """The `response=` entries of an operation's refusals, all in the one error shape."""
    return dict.fromkeys(statuses, ErrorOut)
