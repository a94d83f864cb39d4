"""Persian text normalising, for search and duplicate matching.

The same word reaches us typed on Arabic and Persian keyboards: ي/ی and ك/ک differ in code point
only, digits come as ۰-۹ (Persian) or ٠-٩ (Arabic), and the zero-width non-joiner is used
inconsistently. Alef comes with or without its madda or hamza (آزادی is often typed ازادی, and a
caller's name for a place is read out by an operator who types what they hear). Normalised text
compares equal however it was typed.
"""

from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_LETTERS = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "ە": "ه",
        "ھ": "ه",
        "آ": "ا",
        "أ": "ا",
        "إ": "ا",
        "ٱ": "ا",
        # Hamza on a seat: مسئول and مسيول, مؤسسه and موسسه are typed both ways.
        "ؤ": "و",
        "ئ": "ی",
    }
)
# Arabic diacritics (harakat) and the tatweel carry no meaning for matching.
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_SPACES = re.compile(r"[\s\u200b\u200c\u200d\u200e\u200f\u00a0\u2060\ufeff]+")


def normalize_digits(text: str) -> str:
    return text.translate(_DIGITS)


def normalize_persian(text: str) -> str:
    """Lower-cased, one spelling per letter, ASCII digits, single spaces (ZWNJ becomes a space)."""
    text = _MARKS.sub("", normalize_digits(text).translate(_LETTERS))
    return _SPACES.sub(" ", text).strip().lower()


def to_persian_digits(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
