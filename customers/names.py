"""Personal names compared the way a bank compares a beneficiary: the KYC legal name against a
bank account's holder name (fiat cash-out) or a payer's name (P2P).

``name_normalize`` folds what differs between two spellings of one name but not between two
people: accents and scripts transliterated to ASCII (unidecode), case, punctuation, honorifics,
and word order ("CHAN Tai Man" = "Tai Man Chan", as Hong Kong names are written both ways).
``name_match`` says whether two names are the same (``exact``), nearly the same (``close``: a
typo or a missing middle name, flagged to the checker), or different (``mismatch``).
"""

from __future__ import annotations

import difflib
import re

from unidecode import unidecode

EXACT = "exact"
CLOSE = "close"
MISMATCH = "mismatch"

# Titles and company-style suffixes a bank's records may add to a person's name.
_NOISE_WORDS = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mdm"})
# Similarity (difflib ratio of the normalized forms) from which two names count as close.
CLOSE_RATIO = 0.85


def _words(name: str) -> list[str]:
    ascii_name = unidecode(name or "").lower()
    return [w for w in re.findall(r"[a-z0-9]+", ascii_name) if w not in _NOISE_WORDS]


def name_normalize(name: str) -> str:
    """The comparison form of a name: ASCII, lower case, letters and digits only, honorifics
    dropped, words sorted. ``"Mr. CHAN, Tai-Man"`` → ``"chan man tai"``."""
    return " ".join(sorted(_words(name)))


def _rotations(name: str) -> set[str]:
    """The name's words run together in each rotation of their order (family name first or
    last): "Tai Man Chan" and "CHAN Taiman" share "chantaiman"."""
    words = _words(name)
    return {"".join(words[i:] + words[:i]) for i in range(len(words))}


def name_match(kyc_name: str, other: str) -> str:
    """``exact``, ``close`` or ``mismatch`` between the KYC ``kyc_name`` and ``other``."""
    a, b = name_normalize(kyc_name), name_normalize(other)
    if not a or not b:
        return MISMATCH
    if a == b or _rotations(kyc_name) & _rotations(other):  # word order; "Tai Man" / "Taiman"
        return EXACT
    a_words, b_words = set(a.split()), set(b.split())
    # A middle name more or fewer (all of the shorter name's words, at least two of them).
    shorter = min(a_words, b_words, key=len)
    if len(shorter) >= 2 and shorter <= (a_words | b_words) and (a_words <= b_words or b_words <= a_words):
        return CLOSE
    if difflib.SequenceMatcher(None, a, b).ratio() >= CLOSE_RATIO:
        return CLOSE
    return MISMATCH
