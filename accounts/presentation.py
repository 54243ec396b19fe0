"""How people are shown to others. Niki is never shown: Niki's acts are the Directorate's."""

DIRECTORATE = "The Directorate"


def shown_name(person):
    """The name to show for `person`; the Directorate stands in for Niki (and for no one)."""
    if person is None or person.hidden:
        return DIRECTORATE
    return str(person)


def shown_person(person):
    """`person` when they may be shown (linked, counted, named), else None."""
    return None if person is None or person.hidden else person
