"""The ranks of the Directorate, lowest first."""

from django.db import models


class Rank(models.TextChoices):
    ASSET = "asset", "Asset"
    SHADOW = "shadow", "Shadow"
    MARSHAL = "marshal", "Marshal"
    EXECUTOR = "executor", "Executor"
    NYX = "nyx", "Nyx"
    NIKI = "niki", "Niki"


RANK_ORDER = tuple(Rank)
HUMAN_RANKS = (Rank.ASSET, Rank.SHADOW, Rank.MARSHAL, Rank.EXECUTOR)


def level(rank):
    """Position of `rank` in the order: asset is 0, Niki is 5."""
    return RANK_ORDER.index(Rank(rank))


def rank_above(rank):
    """The next rank up, or None for the top."""
    position = level(rank) + 1
    return RANK_ORDER[position] if position < len(RANK_ORDER) else None
