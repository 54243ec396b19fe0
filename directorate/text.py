"""Checks on text people type, shared by every service that stores it.

Unicode's bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates) let a
string display in an order other than the one it is stored and read in: a title can show reversed, a name
can swallow the text after it. Single-line fields (titles, names, notes, reasons, broadcasts, directive
topics) refuse them with a message at the field; longer text (ticket bodies, comments) keeps them, and every
page shows what people typed isolated from its surroundings (`<bdi>`, block elements).
"""

from directorate.errors import Invalid

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BIDI_MESSAGE = "Must not contain Unicode direction controls (U+202A-U+202E, U+2066-U+2069)."


def has_bidi_controls(text):
    return any(character in BIDI_CONTROLS for character in text or "")


def refuse_bidi_controls(text, *, field, label):
    """`text`, or Invalid naming `field` when it holds a bidirectional control."""
    if has_bidi_controls(text):
        raise Invalid(f"{label} must not contain Unicode direction controls.", field_errors={field: [BIDI_MESSAGE]})
    return text
