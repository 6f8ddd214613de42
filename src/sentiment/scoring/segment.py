"""jieba's accurate no-HMM segmentation (``Tokenizer.lcut(text, HMM=False)``, jieba 0.42.1), hot loop tightened.

Same dictionary, same algorithm, same tokens: the text is split into Han blocks and gaps exactly as jieba does,
each Han block is segmented by jieba's max-probability route over its word DAG, with the per-word
``log(freq) - log(total)`` precomputed once instead of per candidate, the DAG walked inline in the backward DP,
and repeated blocks answered from a bounded cache.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from math import log
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    import jieba

__all__ = ["Segmenter"]

CACHE_LIMIT: Final = 100_000  # Han blocks cached before the cache is cleared
_ENG: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")  # jieba's re_eng
# Table value of a dictionary prefix that is not a word itself (freq 0); told apart by identity, never computed with.
_PREFIX: Final = float("nan")


class Segmenter:
    """``cut(text)`` returns exactly ``tokenizer.lcut(text, HMM=False)``.

    The log-probability table (~500k entries: jieba's ~350k words and their prefixes; ~26 MiB, key strings shared
    with the tokenizer) and the block cache are built on first use and rebuilt if the tokenizer's ``total`` or
    dictionary size changes (``add_word`` of a new word or with a non-zero frequency). ``del_word`` /
    ``add_word(w, 0)`` of a word already in the dictionary changes neither: call :meth:`reset` after such edits.
    Not thread-safe; not picklable (jieba's tokenizer holds a lock): owners drop it when pickled, rebuild it after.
    """

    def __init__(
        self,
        tokenizer: jieba.Tokenizer | None,
        cache_limit: int = CACHE_LIMIT,
        patterns: tuple[re.Pattern[str], re.Pattern[str]] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.cache_limit = cache_limit
        self._table: dict[str, float] | None = None
        self._fallback = 0.0  # jieba's log(1) - logtotal for a character that is no word
        self._stamp: tuple[int, int] = (0, 0)
        self._cache: dict[str, tuple[str, ...]] = {}
        if patterns is None:
            # jieba's own block and gap patterns; imported here so that importing this module (the CLI, the parent
            # of the scoring workers) does not import jieba and its pkg_resources (~0.1-0.3 s). A table read from
            # a file carries them: a scoring worker does not import jieba at all.
            from jieba import re_han_default, re_skip_default

            patterns = (re_han_default, re_skip_default)
        self._re_han, self._re_skip = patterns

    @classmethod
    def from_file(cls, path: Path, cache_limit: int = CACHE_LIMIT) -> Segmenter:
        """A segmenter over a table saved by :meth:`save` (no jieba tokenizer needed: ~0.3 s instead of ~1.5 s to
        load jieba's dictionary). Raises OSError when the file cannot be read, ValueError when it is damaged."""
        try:
            with np.load(path, allow_pickle=False) as data:
                words = bytes(data["words"]).decode("utf-8").split("\n")
                values = data["logp"].tolist()
                fallback = float(data["fallback"])
                patterns = (_pattern(data, "han"), _pattern(data, "skip"))
        except OSError:
            raise
        except Exception as exc:  # a damaged archive fails in many ways (BadZipFile, EOFError, KeyError, ...)
            raise ValueError(f"{path}: not a segmentation table ({exc})") from exc
        if len(words) != len(values):
            raise ValueError(f"{path}: {len(words)} words but {len(values)} values")
        seg = cls(None, cache_limit, patterns)
        seg._table = dict(zip(words, [_PREFIX if v != v else v for v in values], strict=True))
        seg._fallback = fallback
        return seg

    def save(self, path: Path) -> None:
        """Write the table (building it first if needed) atomically to ``path`` (an ``.npz`` file, no pickle)."""
        table = self._table if self._table is not None else self._build()
        words = "\n".join(table).encode("utf-8")
        logp = np.fromiter((float("nan") if v is _PREFIX else v for v in table.values()), "float64", len(table))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    words=np.frombuffer(words, dtype="uint8"),
                    logp=logp,
                    fallback=np.float64(self._fallback),
                    **_pattern_arrays("han", self._re_han),
                    **_pattern_arrays("skip", self._re_skip),
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def reset(self) -> None:
        """Forget the table and the cache (rebuilt on the next ``cut``)."""
        self._table = None
        self._cache = {}

    def _build(self) -> dict[str, float]:
        tk = self.tokenizer
        if tk is None:
            raise RuntimeError("a segmenter read from a file has no tokenizer to rebuild its table from")
        tk.check_initialized()
        logtotal = log(tk.total)
        by_freq: dict[int, float] = {}  # words sharing a frequency share one float object
        table: dict[str, float] = {}
        for word, freq in tk.FREQ.items():
            if freq:
                lp = by_freq.get(freq)
                if lp is None:
                    lp = by_freq[freq] = log(freq) - logtotal
                table[word] = lp
            else:
                table[word] = _PREFIX
        self._table = table
        self._fallback = log(1) - logtotal
        self._stamp = (tk.total, len(tk.FREQ))
        self._cache = {}
        return table

    def cut(self, text: str) -> list[str]:
        """The tokens of ``text``, as ``tokenizer.lcut(text, HMM=False)`` gives them."""
        tk = self.tokenizer
        table = self._table
        if table is None or (tk is not None and self._stamp != (tk.total, len(tk.FREQ))):
            table = self._build()
        cache = self._cache
        out: list[str] = []
        # A capturing split alternates gap, Han block, gap, ...: odd pieces are the blocks jieba's re_han matches
        # (a gap cannot start with a block character), even pieces the possibly empty gaps between them.
        han = False
        re_skip = self._re_skip
        for piece in self._re_han.split(text):
            if han:
                if len(piece) == 1:
                    out.append(piece)
                else:
                    words = cache.get(piece)
                    if words is None:
                        words = self._segment(piece, table)
                        if len(cache) >= self.cache_limit:
                            cache.clear()
                        cache[piece] = words
                    out.extend(words)
            elif piece:
                if "\r\n" in piece:  # jieba keeps \r\n together; every other gap character is its own token
                    for x in re_skip.split(piece):
                        if re_skip.match(x):
                            out.append(x)
                        else:
                            out.extend(x)
                else:
                    out.extend(piece)
            han = not han
        return out

    def _segment(self, block: str, table: dict[str, float]) -> tuple[str, ...]:
        """jieba's ``__cut_DAG_NO_HMM`` on one Han block: ``get_DAG`` + ``calc`` fused, then the route read out."""
        get = table.get
        prefix = _PREFIX
        fallback = self._fallback
        n = len(block)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            # max((log(FREQ[w] or 1) - logtotal + route[x + 1][0], x) for x in DAG[k]): ascending ends, >= keeps
            # the larger end on a tie, as the tuple max does.
            best = 0.0
            bend = 0
            i = k + 1
            lp = get(block[k])
            while lp is not None:
                if lp is not prefix:
                    s = lp + score[i]
                    if bend == 0 or s >= best:
                        best = s
                        bend = i
                if i >= n:
                    break
                i += 1
                lp = get(block[k:i])
            if bend == 0:  # no word starts here: the single character, scored as jieba's log(1) - logtotal
                best = fallback + score[k + 1]
                bend = k + 1
            score[k] = best
            end[k] = bend
        words: list[str] = []
        buf = ""
        k = 0
        eng = _ENG
        while k < n:
            e = end[k]
            if e == k + 1 and block[k] in eng:  # single ASCII letters/digits are glued back together
                buf += block[k]
            else:
                if buf:
                    words.append(buf)
                    buf = ""
                words.append(block[k:e])
            k = e
        if buf:
            words.append(buf)
        return tuple(words)


def _pattern_arrays(name: str, pattern: re.Pattern[str]) -> dict[str, np.ndarray]:
    """A compiled pattern as two arrays (its source as UTF-8 bytes, its flags), for :meth:`Segmenter.save`."""
    return {
        name: np.frombuffer(pattern.pattern.encode("utf-8"), dtype="uint8"),
        f"{name}_flags": np.int64(pattern.flags),
    }


def _pattern(data: Mapping[str, np.ndarray], name: str) -> re.Pattern[str]:
    """The pattern saved by :func:`_pattern_arrays` (``re.UNICODE`` is implied for a str pattern and not passed)."""
    return re.compile(bytes(data[name]).decode("utf-8"), int(data[f"{name}_flags"]) & ~re.UNICODE)
