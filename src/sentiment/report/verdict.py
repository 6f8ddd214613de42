"""The report's answer in plain words, generated from the numbers: who leads, how strongly, and how sure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "FEATURE_LABELS",
    "NOT_TESTABLE_COLUMNS",
    "Verdict",
    "build_verdict",
    "feature_label",
    "feature_unit",
    "language_coverage",
    "language_name",
    "level_words",
    "scored_share",
    "split_testable",
    "target_words",
]

# Plain names for the features the analyses test; the code name follows in brackets wherever one is shown.
FEATURE_LABELS: dict[str, str] = {
    "log_messages": "message volume",
    "log_active_authors": "active authors",
    "log_new_authors": "new authors",
    "log_joins": "joins",
    "net_growth": "net member growth",
    "retention_1w_known": "one-week retention",
    "log_token_mentions": "token mentions",
    "mean_compound": "mean mood",
    "bullish_share": "bullish share",
    "bullishness": "bullishness",
    "compound_std": "mood dispersion",
    "interactive_share": "share of questions and polls",
    "content_share": "share of links and media",
}
LONG_SAMPLE_WEEKS = 104  # below two years of weeks the verdict warns that intervals are wide
# The unit each feature is measured in, for axis labels.
FEATURE_UNITS: dict[str, str] = {
    "log_messages": "log(1 + messages per week)",
    "log_active_authors": "log(1 + active authors per week)",
    "log_new_authors": "log(1 + new authors per week)",
    "log_joins": "log(1 + joins per week)",
    "log_token_mentions": "log(1 + token mentions per week)",
    "net_growth": "joins − leaves per week",
    "retention_1w_known": "share of authors posting again (0–1)",
    "mean_compound": "mean compound score (−1…1)",
    "bullish_share": "share of scored posts (0–1)",
    "bullishness": "log((1 + bullish) / (1 + bearish))",
    "compound_std": "sd of compound scores",
    "interactive_share": "share of posts (0–1)",
    "content_share": "share of posts (0–1)",
}
NOT_TESTABLE_COLUMNS = ["feature", "lag_weeks", "n", "reason"]
# ISO 639-1 codes the scorers emit, plus the project's own "none" (no text) and "other".
_LANGUAGES = {
    "en": "English",
    "zh": "Chinese",
    "ru": "Russian",
    "es": "Spanish",
    "pt": "Portuguese",
    "de": "German",
    "fr": "French",
    "ja": "Japanese",
    "ko": "Korean",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ar": "Arabic",
    "uk": "Ukrainian",
    "none": "no text (media, stickers)",
    "und": "undetermined (no text, or too short to tell)",
    "other": "other languages",
    "unknown": "not recorded",
}
_TARGETS = {
    "excess_log_return": "the token's return net of the market (BTC)",
    "log_return": "the token's return",
    "next_log_return": "the token's next-week return",
}


def feature_label(feature: str, unit: str = "week") -> str:
    """``"message volume (log_messages)"``: a plain name with the code name, or the code name alone; counts are
    per ``unit`` (the bar: week, or day in a daily run)."""
    label = FEATURE_LABELS.get(feature)
    if label and unit != "week":
        label = label.replace("per week", f"per {unit}")
    return f"{label} ({feature})" if label else feature


def feature_unit(feature: str) -> str:
    """The unit of a feature's values, for an axis label (the code name when unknown)."""
    return FEATURE_UNITS.get(feature, feature)


def language_name(code: str) -> str:
    """``"English (en)"`` for a known code, else the code itself."""
    name = _LANGUAGES.get(code)
    return f"{name} ({code})" if name and len(code) == 2 else name or code


def target_words(target: str | None) -> str:
    """The return a relation is tested against, in words."""
    return _TARGETS.get(target or "log_return", target or "the token's return")


@dataclass(frozen=True)
class Verdict:
    """The verdict's sentences (the first is the headline) and the facts they were built from."""

    sentences: list[str]
    leaders: list[str] = field(default_factory=list)  # features with a significant lead, strongest first
    short: bool = False  # the run is shorter than the minimum: nothing could be called significant
    strongest: dict[str, Any] | None = None  # the strongest testable lead relation (a relations row)

    @property
    def headline(self) -> str:
        return self.sentences[0] if self.sentences else ""

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def split_testable(
    relations: pd.DataFrame, *, min_n: int, skipped_features: Iterable[str] = (), unit: str = "week"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(testable relations, not-testable rows with a reason): a feature with no data, or too few paired weeks.

    A relation is testable when it has at least ``min_n`` paired weeks and a defined estimate; the others can
    never be called significant, so they are reported as not testable, never with a p or q as if a result.
    """
    rows: list[dict[str, Any]] = [
        {"feature": f, "lag_weeks": None, "n": 0, "reason": f"no data: the feature is empty in every {unit}"}
        for f in dict.fromkeys(skipped_features)
    ]
    if relations.empty or "n" not in relations.columns:
        return relations, pd.DataFrame(rows, columns=NOT_TESTABLE_COLUMNS)
    n = pd.to_numeric(relations["n"], errors="coerce").fillna(0)
    estimate = pd.to_numeric(relations["estimate"], errors="coerce")
    empty = n == 0
    few = (n > 0) & (n < min_n)
    flat = ~empty & ~few & estimate.isna()
    by_feature = relations.assign(_empty=empty).groupby("feature", sort=False)["_empty"].all()
    for feature, all_empty in by_feature.items():
        if all_empty:
            rows.append({"feature": feature, "lag_weeks": None, "n": 0, "reason": f"no data: no {unit} has a value"})
    partly = relations[empty & ~relations["feature"].map(by_feature).astype(bool)]
    for r in partly.itertuples(index=False):
        rows.append({"feature": r.feature, "lag_weeks": int(r.lag_weeks), "n": 0, "reason": f"no paired {unit}s"})
    for r in relations[few].itertuples(index=False):
        rows.append(
            {
                "feature": r.feature,
                "lag_weeks": int(r.lag_weeks),
                "n": int(r.n),
                "reason": f"only {int(r.n)} paired {unit}s (minimum {min_n})",
            }
        )
    for r in relations[flat].itertuples(index=False):
        rows.append(
            {"feature": r.feature, "lag_weeks": int(r.lag_weeks), "n": int(r.n), "reason": "constant: no variation"}
        )
    return relations[~(empty | few | flat)], pd.DataFrame(rows, columns=NOT_TESTABLE_COLUMNS)


def language_coverage(coverage: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{"language", "messages", "scored", "share"}``, most posts first, from ``coverage["languages"]``: the
    summary of :func:`sentiment.scoring.coverage.language_coverage` (``by_lang`` rows of ``lang``, ``posts``,
    ``scored``). A report without it (a lake scored before languages were recorded) gives no rows.
    """
    raw = coverage.get("languages")
    by_lang = raw.get("by_lang") if isinstance(raw, Mapping) else None
    rows = []
    for row in by_lang if isinstance(by_lang, list) else []:
        messages, scored = _num(row.get("posts")), _num(row.get("scored"))
        share = scored / messages if scored is not None and messages else None
        rows.append({"language": str(row.get("lang", "und")), "messages": messages, "scored": scored, "share": share})
    return sorted(rows, key=lambda r: -(r["messages"] or 0))


def scored_share(coverage: Mapping[str, Any]) -> float | None:
    """Share of posts with a mood score: ``coverage["scored_share"]``, else the language summary's."""
    share = _num(coverage.get("scored_share"))
    languages = coverage.get("languages")
    if share is None and isinstance(languages, Mapping):
        share = _num(languages.get("scored_share"))
    return share


def build_verdict(
    relations: pd.DataFrame,
    prediction: Mapping[str, Any] | None,
    *,
    n_weeks: int,
    min_weeks: int,
    alpha: float = 0.05,
    target: str | None = None,
    skipped_features: Iterable[str] = (),
    coverage: Mapping[str, Any] | None = None,
    granger: pd.DataFrame | None = None,
    unit: str = "week",
) -> Verdict:
    """The report's verdict from its numbers (pure): the answer first, then the forecast, then the caveats.

    Only testable lead relations (lag_weeks > 0, enough paired weeks) are candidates; "leads" means the row's
    own ``significant`` flag, which already carries the multiple-testing correction and the sample guard.
    ``unit`` is the bar ("week", or "day" in a daily run): ``n_weeks``, ``min_weeks`` and the lags count bars.
    """
    coverage = coverage or {}
    testable, not_testable = split_testable(relations, min_n=min_weeks, skipped_features=skipped_features, unit=unit)
    goal = target_words(target)
    short = n_weeks < min_weeks
    sentences: list[str] = []
    leaders: list[str] = []
    strongest: dict[str, Any] | None = None
    lead = testable[testable["lag_weeks"] > 0] if not testable.empty else testable
    if short:
        sentences.append(
            f"This run has only {n_weeks} {unit}s with a known return, fewer than the {min_weeks} needed, so it "
            f"cannot tell whether the community leads {goal}: nothing here is a finding."
        )
        if not relations.empty:
            sentences.append(
                f"All {len(relations)} feature/lag pairs are listed as not testable; collect at least "
                f"{min_weeks - n_weeks} more {unit}s and run again."
            )
    elif lead.empty:
        sentences.append(f"No community feature could be tested against {goal}: none had enough paired {unit}s.")
    else:
        ranked = lead.sort_values(["q_value", "p_value"], na_position="last", kind="mergesort")
        sig = ranked[ranked["significant"].astype(bool)]
        leaders = list(dict.fromkeys(sig["feature"]))
        top = (sig if not sig.empty else ranked).iloc[0]
        strongest = {k: _plain(v) for k, v in top.items()}
        detail = _relation_words(top, unit)
        top_words = f"{feature_label(str(top.feature), unit)} {_lag_words(int(top.lag_weeks), unit)}"
        if leaders:
            names = ", ".join(feature_label(f, unit) for f in leaders[:4]) + (" and others" if len(leaders) > 4 else "")
            verb = "leads" if len(leaders) == 1 else "lead"
            sentences.append(
                f"{names} {verb} {goal} after the multiple-testing correction (q < {alpha:g}); "
                f"the strongest is {top_words}: {detail}."
            )
        else:
            sentences.append(
                f"No community feature leads {goal} after the multiple-testing correction: the strongest "
                f"candidate, {top_words}, has {detail}."
            )
        same = testable[(testable["lag_weeks"] == 0) & testable["significant"].astype(bool)]
        if not same.empty:
            names = ", ".join(feature_label(f, unit) for f in list(dict.fromkeys(same["feature"]))[:3])
            sentences.append(f"In the same {unit}, {names} moved with the price; that is co-movement, not a lead.")
        follows = testable[(testable["lag_weeks"] < 0) & testable["significant"].astype(bool)]
        if not follows.empty:
            names = ", ".join(feature_label(f, unit) for f in list(dict.fromkeys(follows["feature"]))[:3])
            sentences.append(f"The price moved first and {names} followed.")
    if not short and granger is not None and not granger.empty:
        g = granger[
            (granger["direction"] == "feature->target")
            & granger["significant"].astype(bool)
            & (pd.to_numeric(granger["n"], errors="coerce") >= min_weeks)
        ].sort_values("p_value")
        if not g.empty:
            names = ", ".join(feature_label(f, unit) for f in list(dict.fromkeys(g["feature"]))[:3])
            sentences.append(
                f"A Granger test (its own family) finds that the past of {names} improves the forecast of the "
                f"return beyond the return's own past (best {_q(g['q_value'].min())}); it asks a different "
                "question from the rank correlation above."
            )
    sentences.append(_forecast_sentence(prediction, alpha, unit))
    untestable = _untestable_words(relations, not_testable, unit)
    caveats = _caveats(coverage, n_weeks, min_weeks, short, untestable, unit)
    if caveats:
        sentences.append("Caveats: " + "; ".join(caveats) + ".")
    sentences = [s[:1].upper() + s[1:] for s in sentences]  # a code name may open a sentence
    return Verdict(sentences, leaders, short, strongest)


def level_words(level: float) -> str:
    """An interval's level as a percentage that never rounds a level below 1 up to "100%": one decimal more than
    the fewest that keep it below 100, trailing zeros dropped (0.95 -> "95%", 0.99948 -> "99.95%")."""
    digits = 0
    while level < 1 and digits < 6 and float(f"{level * 100:.{digits}f}") >= 100:
        digits += 1
    text = f"{level * 100:.{digits + 1}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _relation_words(row: Any, unit: str = "week") -> str:
    level = _num(getattr(row, "ci_level", 0.95))
    name = level_words(level) if level is not None else "95%"
    ci = (
        f", {name} interval {row.ci_low:+.2f} to {row.ci_high:+.2f}"
        if _finite(row.ci_low) and _finite(row.ci_high)
        else ""
    )
    return f"Spearman rho = {row.estimate:+.2f}{ci}, {_q(row.q_value)}, n = {int(row.n)} {unit}s"


def _lag_words(lag: int, unit: str = "week") -> str:
    return f"{lag} {unit}{'s' if abs(lag) != 1 else ''} ahead" if lag > 0 else f"in the same {unit}"


def _forecast_sentence(prediction: Mapping[str, Any] | None, alpha: float, unit: str = "week") -> str:
    if not prediction or not isinstance(prediction.get("model"), Mapping):
        return f"No out-of-sample forecast was possible (too few {unit}s)."
    model = prediction["model"]
    n_test = int(model.get("n_test") or 0)
    r2 = _num(model.get("oos_r2"))
    p = _num(model.get("p_value"))
    vs_zero = _num(model.get("oos_r2_vs_zero"))
    if prediction.get("guard"):
        return (
            f"The out-of-sample forecast ({n_test} test {unit}s) is shown for information only: {prediction['guard']}."
        )
    beat_mean = r2 is not None and r2 > 0 and p is not None and p < alpha
    r2_text = f"out-of-sample R² {r2:+.3f} vs the historical mean" if r2 is not None else "no R²"
    p_text = f"Clark-West p = {p:.3f}" if p is not None else "no test"
    zero = ""
    if vs_zero is not None:
        zero = f"; against a zero forecast its R² is {vs_zero:+.3f}"
    if beat_mean:
        return (
            f"Out of sample, the walk-forward forecast of next {unit}'s return beat the historical mean "
            f"({r2_text}, {p_text}, {n_test} test {unit}s){zero}."
        )
    return (
        f"Out of sample, the walk-forward forecast of next {unit}'s return did not beat the historical mean "
        f"({r2_text}, {p_text}, {n_test} test {unit}s){zero}."
    )


def _untestable_words(relations: pd.DataFrame, not_testable: pd.DataFrame, unit: str = "week") -> str:
    """ "token mentions could not be tested (no data); 3 other feature/lag pairs too" or ""."""
    if not_testable.empty:
        return ""
    lags_of = relations.groupby("feature")["lag_weeks"].nunique() if not relations.empty else pd.Series(dtype=int)
    whole, pairs = [], 0
    for feature, group in not_testable.groupby("feature", sort=False):
        if group["lag_weeks"].isna().all() or len(group) >= lags_of.get(feature, 0):
            whole.append(feature_label(str(feature), unit).split(" (")[0])
        else:
            pairs += len(group)
    parts = []
    if whole:
        parts.append(f"{', '.join(whole)} could not be tested")
    if pairs:
        parts.append(f"{pairs} {'other ' if whole else ''}feature/lag pairs had too few paired {unit}s")
    return " and ".join(parts) + " (see Not testable)"


def _caveats(
    coverage: Mapping[str, Any], n_weeks: int, min_weeks: int, short: bool, untestable: str, unit: str = "week"
) -> list[str]:
    out = []
    if coverage.get("synthetic"):
        out.append("the data are synthetic, so this says nothing about a real community")
    if not short and n_weeks < LONG_SAMPLE_WEEKS:
        out.append(f"{n_weeks} {unit}s with a known return is a short sample, so intervals are wide")
    scored = scored_share(coverage)
    if scored is not None:
        langs = language_coverage(coverage)
        split = ", ".join(
            f"{r['language']} {r['share']:.0%}"
            for r in langs
            if r["share"] is not None and r["messages"] and r["language"] not in ("none", "unknown", "und", "other")
        )
        out.append(
            f"mood rests on {scored:.0%} of messages" + (f" (scored share by language: {split})" if split else "")
        )
    missing = coverage.get("missing_weeks")
    if isinstance(missing, list) and missing:
        out.append(f"{len(missing)} {unit}s are missing inside the range")
    if untestable and not short:
        out.append(untestable)
    out.append("correlation is not causation")
    return out


def _q(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "q not available"
    return "q < 0.001" if v < 0.001 else f"q = {v:.3f}"


def _finite(value: Any) -> bool:
    return _num(value) is not None


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value
