"""Per-message facts beside the mood: token mentions (cashtags and configured aliases), questions and links."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from sentiment.scoring.english import CASHTAG

__all__ = ["DEFAULT_ALIASES", "MessageFacts"]

DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {"VIRTUAL/USDT": ("VIRTUAL", "$VIRTUAL", "virtuals")}
_LINK = re.compile(r"(?i)\b(?:https?://|www\.|t\.me/)\S")
# A question mark (ASCII or full width), or a Chinese sentence-final question particle.
_QUESTION = re.compile(r"[?？]|[吗嘛么呢](?=[\s\W]*$)")
RULES_VERSION = "1"


class MessageFacts:
    """Finds mentions of configured symbols and cashtags, questions and links in a message text.

    Alias matching: an alias starting with ``$`` or containing lower-case letters matches in any case
    ("virtuals", "Virtuals"); an all-capitals alias is a ticker and matches only in capitals ("VIRTUAL", not
    "virtual reality"). Aliases match whole words. A cashtag of no configured symbol is reported as ``$TICKER``.
    """

    def __init__(self, aliases: Mapping[str, Sequence[str]] | None = None) -> None:
        self.aliases = {k: tuple(v) for k, v in (DEFAULT_ALIASES if aliases is None else aliases).items()}
        by_alias: dict[str, str] = {}
        exact: list[str] = []
        folded: list[str] = []
        for symbol, names in self.aliases.items():
            for name in (*names, symbol):
                if name.startswith("$") or name != name.upper():
                    by_alias[name.lower()] = symbol
                    folded.append(name)
                else:
                    by_alias[name] = symbol
                    exact.append(name)
        self._by_alias = by_alias
        # Cheap substring checks first; the word-boundary regexes run only when one of them hits.
        # (a name holding another name as a substring is found whenever that one is: only the shortest are tried)
        names = {n.lower() for n in (*exact, *folded)}
        self._any_names = tuple(sorted(n for n in names if not any(m != n and m in n for m in names)))
        self._exact = _alternation(exact, 0)
        self._folded = _alternation(folded, re.IGNORECASE)
        payload = json.dumps({"rules": RULES_VERSION, "aliases": self.aliases}, sort_keys=True)
        self.version = hashlib.sha256(payload.encode()).hexdigest()[:8]

    def mentions(self, text: str) -> list[str]:
        """Configured symbols mentioned by any alias, and other cashtags as ``$TICKER``; sorted, each once."""
        lowered = text.lower()
        if "$" not in text:
            for name in self._any_names:
                if name in lowered:
                    break
            else:
                return []
        found: set[str] = set()
        if self._exact is not None:
            found.update(self._by_alias[m] for m in self._exact.findall(text))
        if self._folded is not None:
            found.update(self._by_alias[m.lower()] for m in self._folded.findall(text))
        if "$" in text:
            for ticker in CASHTAG.findall(text):
                symbol = self._by_alias.get("$" + ticker.lower())
                found.add(symbol or "$" + ticker.upper())
        return sorted(found)

    def of(self, text: str) -> tuple[list[str], bool, bool]:
        """(mentions, is_question, has_link) of one text."""
        question = "?" in text or (not text.isascii() and bool(_QUESTION.search(text)))
        link = ("http" in text or "www." in text or "t.me/" in text or "HTTP" in text or "WWW." in text) and bool(
            _LINK.search(text)
        )
        return self.mentions(text), question, link


def _alternation(names: list[str], flags: int) -> re.Pattern[str] | None:
    if not names:
        return None
    body = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))
    return re.compile(r"(?<![\w$])(" + body + r")(?!\w)", flags)
