"""Which languages a community writes in and how much of it the mood scores cover (for the report)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["language_coverage"]

TOP = 8


def language_coverage(posts: pd.DataFrame) -> dict[str, object]:
    """From posts with ``lang`` and ``label`` (scores merged in; missing when not scored yet): post and scored counts
    per language (most posts first, at most ``TOP`` and the rest as ``other``), the scored share, and a sentence.
    A column ``n`` makes each row stand for ``n`` posts (counts of (lang, label) aggregated by a query)."""
    lang = posts["lang"].astype("string").fillna("und") if "lang" in posts else pd.Series("und", index=posts.index)
    label = posts["label"].astype("string") if "label" in posts else pd.Series(pd.NA, index=posts.index)
    weight = posts["n"].to_numpy(dtype="int64") if "n" in posts else np.ones(len(posts), dtype="int64")
    scored = (label.notna() & (label != "unscored")).to_numpy(dtype=bool)
    counted = pd.DataFrame({"lang": lang.to_numpy(), "size": weight, "sum": np.where(scored, weight, 0)})
    table = counted.groupby("lang")[["size", "sum"]].sum()
    table = table.sort_values(["size", "sum"], ascending=False, kind="mergesort")
    rows = [{"lang": str(k), "posts": int(r["size"]), "scored": int(r["sum"])} for k, r in table.iterrows()]
    if len(rows) > TOP:
        rest = rows[TOP:]
        other = {"lang": "other", "posts": sum(r["posts"] for r in rest), "scored": sum(r["scored"] for r in rest)}
        rows = [*rows[:TOP], other]
    total = int(weight.sum())
    n_scored = int(weight[scored].sum())
    scored_langs = [r["lang"] for r in rows if r["scored"] and r["lang"] not in ("und", "other")]
    unscored_langs = [r["lang"] for r in rows if not r["scored"] and r["lang"] not in ("und", "other")]
    if total == 0:
        words = "No posts to score."
    else:
        parts = ", ".join(f"{r['lang']} ({r['posts'] / total:.0%} of posts)" for r in rows if r["lang"] in scored_langs)
        words = f"Mood covers {n_scored / total:.0%} of {total:,} posts, in {parts or 'no language'}"
        if unscored_langs:
            words += f"; posts in {', '.join(unscored_langs)} are not scored (no lexicon or model for them)"
        words += "."
    return {
        "posts": total,
        "scored": n_scored,
        "scored_share": round(n_scored / total, 4) if total else None,
        "by_lang": rows,
        "scored_langs": scored_langs,
        "in_words": words,
    }
