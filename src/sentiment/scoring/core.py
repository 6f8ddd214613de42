"""Scorers behind one small interface, language routing, and scoring each distinct text once (in parallel when big).

Only text in a language a scorer understands is scored. Anything else gets ``label = "unscored"`` and null
scores, never a fake neutral 0 (VADER returns exactly 0.0 for Chinese, which would read as "neutral").
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.scoring.extras import MessageFacts
from sentiment.scoring.langid import detect as _detect

if TYPE_CHECKING:
    import pandas as pd  # imported where used: `score-text` and the workers never need it

__all__ = [
    "EXTRA_COLUMNS",
    "LABELS",
    "RESULT_COLUMNS",
    "BaseScorer",
    "LexiconScorer",
    "VaderScorer",
    "analyse_texts",
    "detect_lang",
    "label_for",
    "score_messages",
    "scoring_pool",
    "worker_state",
]

LABELS = ("bullish", "bearish", "neutral", "unscored")
BULLISH_AT = 0.05
BEARISH_AT = -0.05
SCORED_KINDS = ("message", "media")
RESULT_COLUMNS = ("compound", "pos", "neu", "neg", "label", "lang")
EXTRA_COLUMNS = ("mentions", "is_question", "has_link")
MIN_PARALLEL = 100_000  # texts; below this, starting worker processes costs more than it saves

_FLOATS = ("compound", "pos", "neu", "neg")
_LABEL_CODE = {label: i for i, label in enumerate(LABELS)}
_NO_SCORES = (float("nan"),) * 4


def detect_lang(text: str | None) -> str:
    """ISO 639-1 code of the text's language, ``und`` when it has no letters (see ``scoring.langid``)."""
    return _detect(text)


def _vader_reads(text: str, lang: str) -> bool:
    """What the VADER-based scorers read: English, and text without letters but with symbols (VADER reads emoji)."""
    return lang == "en" or (lang == "und" and bool(text.strip()))


def label_for(compound: float | None) -> str:
    """bullish / bearish / neutral by VADER's customary +-0.05 thresholds; unscored when there is no score."""
    if compound is None or compound != compound:  # None or NaN (cheaper than pd.isna on the hot path)
        return "unscored"
    if compound >= BULLISH_AT:
        return "bullish"
    if compound <= BEARISH_AT:
        return "bearish"
    return "neutral"


def label_codes(compound: np.ndarray) -> np.ndarray:
    """``label_for`` over an array, as codes into ``LABELS`` (uint8)."""
    codes = np.full(len(compound), _LABEL_CODE["neutral"], dtype="uint8")
    codes[compound >= BULLISH_AT] = _LABEL_CODE["bullish"]
    codes[compound <= BEARISH_AT] = _LABEL_CODE["bearish"]
    codes[np.isnan(compound)] = _LABEL_CODE["unscored"]
    return codes


def _unscored(lang: str) -> dict[str, object]:
    return {"compound": None, "pos": None, "neu": None, "neg": None, "label": "unscored", "lang": lang}


def _scored(s: dict[str, float], lang: str) -> dict[str, object]:
    return {
        "compound": s["compound"],
        "pos": s["pos"],
        "neu": s["neu"],
        "neg": s["neg"],
        "label": label_for(s["compound"]),
        "lang": lang,
    }


class BaseScorer:
    """What every scorer offers: ``name``, ``version``, ``score_one`` and the batch methods built on it."""

    name: str
    version: str
    #: whether score_many may run in worker processes (the scorer pickles and rebuilds itself there)
    parallel: bool = True

    def score_one(self, text: str) -> dict[str, object]:
        raise NotImplementedError

    def score_many(self, texts: Sequence[str]) -> list[dict[str, object]]:
        return [self.score_one(t) for t in texts]

    def warm(self) -> None:
        """Build whatever is built lazily (called once per worker process)."""
        self.score_one("warm up 好")

    def score_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The batch as arrays: an (n, 4) float64 array of compound, pos, neu, neg (NaN when unscored), label codes
        into ``LABELS`` (uint8) and the lang of each text."""
        rows = self.score_many(texts)
        values = np.array([[np.nan if r[c] is None else r[c] for c in _FLOATS] for r in rows], dtype="float64").reshape(
            len(rows), 4
        )
        labels = np.array([_LABEL_CODE[r["label"]] for r in rows], dtype="uint8")
        return values, labels, [str(r["lang"]) for r in rows]

    def score_texts(self, texts: pd.Series) -> pd.DataFrame:
        """compound, pos, neu, neg, label, lang for each text, aligned to ``texts``' index."""
        return analyse_texts(texts, self, facts=None)


@dataclass
class VaderScorer(BaseScorer):
    """Vanilla VADER, built once and reused; English only (other scripts are unscored)."""

    name: str = "vader"
    version: str = "3.3.2-1"
    _analyzer: SentimentIntensityAnalyzer = field(default_factory=SentimentIntensityAnalyzer, repr=False)

    def score_one(self, text: str) -> dict[str, object]:
        lang = detect_lang(text)
        if not _vader_reads(text, lang):
            return _unscored(lang)
        return _scored(self._analyzer.polarity_scores(text), lang)


class LexiconParts:
    """The English (VADER + crypto lexicon) and Chinese (jieba + lexicon) analyzers, built on first use: a scorer
    sent to a worker process travels without them (its ``__getstate__`` drops them) and builds its own there."""

    _en: object | None = None
    _zh: object | None = None

    @property
    def english(self):  # type: ignore[no-untyped-def]
        if self._en is None:
            from sentiment.scoring.english import CryptoVader

            self._en = CryptoVader()
        return self._en

    @property
    def chinese(self):  # type: ignore[no-untyped-def]
        if self._zh is None:
            from sentiment.scoring.chinese import ChineseScorer
            from sentiment.scoring.lexicon import load_crypto_lexicon

            crypto = load_crypto_lexicon()
            self._zh = ChineseScorer(latin_lexicon=self.english.lexicon, emoji_lexicon=crypto.emoji)
        return self._zh


class LexiconScorer(LexiconParts, BaseScorer):
    """The lexicon scorer: English (and emoji-only) text through VADER + the crypto lexicon, Chinese through jieba +
    the Chinese lexicon, every other language unscored. Its version changes whenever a lexicon file does."""

    name = "lexicon"
    RULES_VERSION = "1"

    def __init__(self) -> None:
        from sentiment.scoring.lexicon import data_digest

        self.version = f"{self.RULES_VERSION}.{data_digest()}"
        self._en = None
        self._zh = None

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_en": None, "_zh": None}

    def score_one(self, text: str) -> dict[str, object]:
        lang = detect_lang(text)
        if _vader_reads(text, lang):
            return _scored(self.english.polarity_scores(text), lang)
        if lang == "zh":
            return _scored(self.chinese.polarity_scores(text), lang)
        return _unscored(lang)

    def score_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """:meth:`score_one` for a batch without a dict per text; labels from compound, as ``label_for`` gives."""
        english, chinese = self.english.polarity_scores, self.chinese.polarity_scores
        langs = [detect_lang(t) for t in texts]
        rows: list[tuple[float, float, float, float]] = []
        for text, lang in zip(texts, langs, strict=True):
            if lang == "en" or (lang == "und" and text.strip()):
                s = english(text)
            elif lang == "zh":
                s = chinese(text)
            else:
                rows.append(_NO_SCORES)
                continue
            rows.append((s["compound"], s["pos"], s["neu"], s["neg"]))
        values = np.array(rows, dtype="float64").reshape(len(rows), 4)
        return values, label_codes(values[:, 0]), langs


# ---- distinct texts, optionally across processes -------------------------------------------------------------
_WORKER: tuple[BaseScorer, MessageFacts | None] | None = None


def _columns(scorer: BaseScorer, facts: MessageFacts | None, texts: list[str]) -> dict[str, np.ndarray]:
    """Scores (and facts) of ``texts`` as columns: float64 arrays (NaN when unscored), label codes into ``LABELS``,
    and object arrays for lang and mentions. Columns pickle compactly and concatenate without a Python loop."""
    with _gc_paused():
        values, labels, langs = scorer.score_arrays(texts)
        found = [facts.of(t) for t in texts] if facts is not None else None
    out: dict[str, np.ndarray] = {c: values[:, i].copy() for i, c in enumerate(_FLOATS)}
    out["label"] = labels
    out["lang"] = _objects(langs)
    if found is not None:
        out["mentions"] = _objects([f[0] for f in found])
        out["is_question"] = np.array([f[1] for f in found], dtype=bool)
        out["has_link"] = np.array([f[2] for f in found], dtype=bool)
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while scoring a batch.

    Scoring allocates millions of short-lived, acyclic objects (reference counting frees them), and every
    allocation burst triggers collections that rescan the process's whole heap of long-lived objects (lexicons,
    jieba's dictionary, the caller's DataFrames): measured at 20-30% of scoring time on 500k texts.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _objects(values: list[object]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _init_worker(scorer: BaseScorer, facts: MessageFacts | None) -> None:
    """Build the scorer's analyzers once in this worker process (they are not pickled, they are rebuilt)."""
    global _WORKER  # a per-worker cache of the built analyzer, the documented ProcessPoolExecutor pattern
    scorer.warm()
    gc.freeze()  # the analyzers' tables live as long as the worker: keep them out of every later collection
    _WORKER = (scorer, facts)


def worker_state() -> tuple[BaseScorer, MessageFacts | None]:
    """The scorer and facts this worker process was started with (see :func:`scoring_pool`)."""
    if _WORKER is None:
        raise RuntimeError("not a scoring worker process")
    return _WORKER


def _work(texts: list[str]) -> tuple[dict[str, np.ndarray], float]:
    """Score one chunk in a worker: its columns, and the CPU seconds the chunk took."""
    assert _WORKER is not None, "worker not initialised"
    started = time.process_time()
    columns = _columns(*_WORKER, texts)
    return columns, time.process_time() - started


def _ready() -> None:
    """A no-op submitted to start the worker processes (and their analyzers) early."""


def _start_pool(scorer: BaseScorer, facts: MessageFacts | None, workers: int) -> ProcessPoolExecutor:
    """Worker processes that build their analyzers while the caller is still finding the distinct texts."""
    from sentiment.workers import worker_context

    # Workers fork from a server that imported this package once, rather than each importing it (~1 s).
    context = worker_context(type(scorer).__module__)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(scorer, facts)
    )
    pool.submit(_ready)  # processes start on the first submission
    return pool


@contextmanager
def scoring_pool(
    scorer: BaseScorer, facts: MessageFacts | None, workers: int | None = None, *, min_workers: int = 2
) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for many :func:`analyse_texts` calls with this scorer and facts (a big input scored chunk
    by chunk pays the start-up once); None when the scorer runs in this process only or fewer than
    ``min_workers`` would start (by default: one core)."""
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers < min_workers or not scorer.parallel:
        yield None
        return
    pool = _start_pool(scorer, facts, n_workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _analyse_in_pool(
    distinct: list[str], pool: ProcessPoolExecutor, workers: int
) -> tuple[dict[str, np.ndarray], float]:
    # ~16 chunks per worker, at most 10k texts: small enough that the last chunks finish close together.
    size = max(1_000, min(10_000, len(distinct) // (workers * 16) + 1))
    chunks = [distinct[i : i + size] for i in range(0, len(distinct), size)]
    parts: list[dict[str, np.ndarray]] = []
    worker_cpu = 0.0
    for columns, cpu in pool.map(_work, chunks):
        parts.append(columns)
        worker_cpu += cpu
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}, worker_cpu


def analyse_texts(
    texts: pd.Series,
    scorer: BaseScorer,
    facts: MessageFacts | None = None,
    *,
    workers: int | None = None,
    min_parallel: int = MIN_PARALLEL,
    pool: ProcessPoolExecutor | None = None,
) -> pd.DataFrame:
    """Score each distinct text once (across ``workers`` processes when there are at least ``min_parallel``
    texts, or in ``pool``'s when one is given: see :func:`scoring_pool`) and fan the results out to every row,
    aligned to ``texts``' index.

    Columns: compound, pos, neu, neg, label, lang, plus mentions, is_question, has_link when ``facts`` is given.
    ``attrs`` carries ``distinct_texts`` and ``worker_cpu_s`` (CPU seconds in worker processes).
    """
    import pandas as pd

    cols = list(RESULT_COLUMNS) + (list(EXTRA_COLUMNS) if facts is not None else [])
    if texts.empty:
        out = pd.DataFrame(columns=cols, index=texts.index)
        for c in _FLOATS:
            out[c] = out[c].astype("float64")
        return out
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    # There are at most len(texts) distinct texts: below the threshold no process is started at all.
    parallel = n_workers > 1 and scorer.parallel and len(texts) >= min_parallel
    owned = pool is None
    if pool is None:
        pool = _start_pool(scorer, facts, n_workers) if parallel else None
    else:
        n_workers = pool._max_workers  # type: ignore[attr-defined]
    try:
        codes, uniques = pd.factorize(texts.fillna("").astype(str), sort=False)
        distinct = uniques.tolist()
        if pool is not None:  # started, so used even when repeats leave fewer distinct texts than the threshold
            columns, worker_cpu = _analyse_in_pool(distinct, pool, n_workers)
        else:
            columns, worker_cpu = _columns(scorer, facts, distinct), 0.0
    finally:
        if pool is not None and owned:
            pool.shutdown(wait=True, cancel_futures=True)
    table: dict[str, np.ndarray] = {c: columns[c][codes] for c in cols if c != "label"}
    table["label"] = np.array(LABELS, dtype=object)[columns["label"]][codes]
    out = pd.DataFrame(table, index=texts.index, columns=cols)
    out.attrs["distinct_texts"] = len(distinct)
    out.attrs["worker_cpu_s"] = worker_cpu  # CPU seconds spent in worker processes (0 when run in-process)
    return out


def score_messages(
    messages: pd.DataFrame,
    scorer: BaseScorer,
    scored_at: pd.Timestamp,
    facts: MessageFacts | None = None,
    *,
    workers: int | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> pd.DataFrame:
    """Rows of the ``scores`` table for the user messages in ``messages`` (system events are not scored).

    ``scorer_version`` combines the scorer's version with the mention rules' (aliases), so changing either makes
    stored rows stale.
    """
    import pandas as pd

    facts = facts or MessageFacts()
    users = messages[messages["kind"].isin(SCORED_KINDS)]
    scored = analyse_texts(users["text"], scorer, facts, workers=workers, pool=pool)
    out = users[["platform", "chat_id", "message_id"]].reset_index(drop=True)
    out = pd.concat([out, scored.reset_index(drop=True)], axis=1)
    out["scorer"] = scorer.name
    out["scorer_version"] = stored_version(scorer, facts)
    out["scored_at"] = scored_at
    media = users["kind"].eq("media")
    if "media_type" in users.columns:
        media = media | users["media_type"].notna()
    out["has_media"] = media.to_numpy(dtype=bool)
    return out


def stored_version(scorer: BaseScorer, facts: MessageFacts) -> str:
    """The ``scorer_version`` written with each row: scorer version + mention rules/aliases fingerprint."""
    return f"{scorer.version}+m{facts.version}"
