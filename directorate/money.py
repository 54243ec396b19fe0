"""Money is a Decimal with two places (never a float), in the database, the rules and the API alike."""

from decimal import Decimal

CENT = Decimal("0.01")
