"""How people are shown to others. Niki is never shown: Niki's acts are the Directorate's."""

from accounts.ranks import Rank

DIRECTORATE = "The Directorate"
RANK_LABELS = dict(Rank.choices)


def titled_name(rank, display_name):
    """A member's name as everyone sees it: "Marshal Vance"; a name that is its rank is said once ("Nyx")."""
    rank_label = RANK_LABELS[rank]
    return display_name if display_name == rank_label else f"{rank_label} {display_name}"


def shown_name(person):
    """The name to show for `person`; the Directorate stands in for Niki (and for no one)."""
    if person is None or person.hidden:
        return DIRECTORATE
    return titled_name(person.rank, person.display_name)


def shown_name_of_columns(*, hidden, rank, display_name):
    """`shown_name` for a person read as columns of a list row rather than as a User."""
    return DIRECTORATE if hidden else titled_name(rank, display_name)


def shown_person(person):
    """`person` when they may be shown (linked, counted, named), else None."""
    return None if person is None or person.hidden else person


def amounts_in_words(credits, pay, *, signed=False):
    """An award or adjustment as a member reads it, naming only what moves: "5 credits and ¤12.50",
    "3 credits", "¤40.00", or "nothing" when both are zero. `signed` writes a deduction as "minus 5 credits"."""
    parts = []
    if credits:
        count = abs(credits)
        words = f"{count} credit{'' if count == 1 else 's'}"
        parts.append(f"minus {words}" if signed and credits < 0 else words)
    if pay:
        words = f"¤{abs(pay):.2f}"
        parts.append(f"minus {words}" if signed and pay < 0 else words)
    return " and ".join(parts) or "nothing"
