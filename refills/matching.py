"""Text matching of refill requests: the medication's normalised name, class patterns and red-flag terms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Words that describe the form, release or salt of a drug, not which drug it is.
_FORM_WORDS = frozenset(
    {
        "tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps", "oral", "po", "pill", "pills",
        "solution", "suspension", "liquid", "syrup", "injection", "inhaler", "cream", "ointment", "patch",
        "er", "xr", "xl", "sr", "dr", "ec", "la", "cr", "ir", "odt", "extended", "delayed", "release", "immediate",
        "mg", "mcg", "g", "ml", "units", "unit", "iu",
        "generic", "brand", "daily", "refill",
    }
)  # fmt: skip
_SALT_WORDS = frozenset(
    {
        "calcium", "sodium", "potassium", "magnesium", "hcl", "hydrochloride", "succinate", "tartrate",
        "besylate", "maleate", "mesylate", "fumarate", "citrate", "sulfate", "acetate", "bromide", "hyclate",
        "monohydrate", "dihydrate", "trihydrate",
    }
)  # fmt: skip
_STRENGTH = re.compile(r"\d")


def medication_key(text: str) -> str:
    """The drug as a comparable name: "Atorvastatin calcium 20 mg tab" and "atorvastatin" give "atorvastatin".

    Strength, form, release and (after the name) salt words are dropped (a dose change is still the same medication for
    merging); a combination keeps both parts ("lisinopril-hydrochlorothiazide").
    """
    text = re.sub(r"\([^)]*\)", " ", (text or "").lower())
    text = re.sub(r"[^a-z0-9\-\s/]", " ", text).replace("/", "-")
    words: list[str] = []
    for word in text.split():
        if _STRENGTH.search(word):
            break  # "20", "20mg", "12.5-25": the rest is dose and form
        word = word.strip("-")
        if word and word not in _FORM_WORDS:
            words.append(word)
    # A salt after the drug's name goes ("atorvastatin calcium"); a first word stays ("calcium carbonate").
    kept = words[:1] + [w for w in words[1:] if w not in _SALT_WORDS]
    return " ".join(kept)[:200]


def _pattern(pattern: str) -> str:
    parts = [re.escape(part).replace(r"\*", r"[a-z0-9]*") for part in pattern.lower().split()]
    return r"[\s\-]+".join(parts)


@lru_cache(maxsize=256)
def _class_regex(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per class: a request is matched against each class once, not per name."""
    if not patterns:
        return None
    names = "|".join(_pattern(p) for p in patterns)
    return re.compile(r"(?<![a-z0-9])(?:" + names + r")(?![a-z0-9])", re.IGNORECASE)


def matches_drug(patterns: Iterable[str], *texts: str) -> bool:
    """True when a pattern names the drug (whole words, any case, `*` for letters) in one of the texts."""
    regex = _class_regex(tuple(p.strip() for p in patterns if p.strip()))
    return regex is not None and any(regex.search(t) for t in texts if t)


@lru_cache(maxsize=1024)
def _term(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.lower().split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def red_flags_in(text: str, terms: Iterable[str]) -> list[str]:
    """The terms found in `text`, as whole words in any case ("Chest  Pain" finds "chest pain"), in order given."""
    if not text:
        return []
    return [t for t in terms if t.strip() and _term(t.strip()).search(text)]
