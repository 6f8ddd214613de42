"""language_coverage: the same summary from one row per post as from counted (lang, label) rows."""

from __future__ import annotations

import pandas as pd

from sentiment.scoring.coverage import language_coverage


def test_counted_rows_give_the_same_summary_as_one_row_per_post() -> None:
    counted = pd.DataFrame(
        {
            "lang": ["en", "en", "zh", "ar", None, "ru"],
            "label": ["bullish", "unscored", "neutral", "unscored", None, "bearish"],
            "n": [5, 2, 3, 4, 1, 4],
        }
    )
    posts = counted.loc[counted.index.repeat(counted["n"])].drop(columns="n").reset_index(drop=True)
    summary = language_coverage(counted)
    assert summary == language_coverage(posts)
    assert (summary["posts"], summary["scored"]) == (19, 12)
    assert summary["by_lang"][0] == {"lang": "en", "posts": 7, "scored": 5}
    assert "ar" not in summary["scored_langs"] and "in ar" in summary["in_words"]
