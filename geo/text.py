"""Persian text normalising, for search and duplicate matching.

The same word reaches us typed on Arabic and Persian keyboards: ي/ی and ك/ک differ in code point
only, digits come as ۰-۹ (Persian) or ٠-٩ (Arabic), and the zero-width non-joiner is used
inconsistently. Normalised text compares equal however it was typed.
"""

from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "ٱ": "ا"})
# Arabic diacritics (harakat) and the tatweel carry no meaning for matching.
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_SPACES = re.compile(r"[\s\u200c\u200d\u200e\u200f\u00a0]+")


def normalize_digits(text: str) -> str:
    return text.translate(_DIGITS)


def normalize_persian(text: str) -> str:
    """Lower-cased, one spelling per letter, ASCII digits, single spaces (ZWNJ becomes a space)."""
    text = _MARKS.sub("", normalize_digits(text).translate(_LETTERS))
    return _SPACES.sub(" ", text).strip().lower()


def to_persian_digits(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
