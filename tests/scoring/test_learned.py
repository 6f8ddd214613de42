"""The shipped learned models: stored as plain arrays (no pickle), predicting exactly as scikit-learn does."""

from __future__ import annotations

import json
import zipfile
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.errors import InputError
from sentiment.scoring import learned
from sentiment.scoring.hybrid import HybridScorer, reads_as_report
from sentiment.scoring.learned import LinearTextModel, fit_linear, load_shipped, save_linear, text_features

TEXTS = [
    "$AAPL beats estimates, shares jump https://t.co/x",
    "Company X downgraded to sell at Bank Y",
    "profit warning: revenue falls 10%",
    "great quarter, record revenue",
    "CEO resigns amid fraud probe",
    "Board declares regular dividend",
    "stock rallies after upgrade",
    "shares plunge on weak guidance",
    "Company X to present at conference",
    "record profit, raises outlook 🚀",
] * 3
LABELS = [
    "bullish",
    "bearish",
    "bearish",
    "bullish",
    "bearish",
    "neutral",
    "bullish",
    "bearish",
    "neutral",
    "bullish",
] * 3


def test_features_mask_links_cashtags_and_numbers() -> None:
    """Links, cashtags and numbers are placeholders; words and their bigrams are features."""
    feats = text_features("$ETH.X up 12% today https://t.co/abc 🚀")
    assert feats[:6] == ["_cashtag_", "up", "_num_", "today", "_url_", "🚀"]
    assert "up _num_" in feats


def test_prediction_from_arrays_matches_scikit_learn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The arrays alone reproduce the fitted scikit-learn pipeline's probabilities, after a save/load round trip."""
    from scipy.sparse import csr_matrix, hstack

    dense = np.array([[len(t) % 3 / 3, 0.1, 0.2] for t in TEXTS])
    arrays, (vectorizer, model) = fit_linear(TEXTS, LABELS, dense, ("a", "b", "c"))
    path = tmp_path / "m.npz"
    save_linear(arrays, {"lang": "xx"}, path)
    loaded = LinearTextModel.load(path)
    new = ["shares jump after record quarter", "fraud probe widens, shares plunge", "nothing known here", ""]
    new_dense = np.array([[0.5, 0.1, 0.0], [-0.5, 0.0, 0.3], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    expected = model.predict_proba(hstack([vectorizer.transform(new), csr_matrix(new_dense)]).tocsr())
    got = np.array([loaded.proba(t, d) for t, d in zip(new, new_dense, strict=True)])
    assert loaded.classes == tuple(model.classes_)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_shipped_models_are_plain_arrays_with_a_card() -> None:
    """Each shipped .npz holds only numeric/byte arrays (no pickled objects) and has a card naming data and licence."""
    folder = resources.files("sentiment.scoring").joinpath("models")
    for lang in ("en", "id"):
        raw = folder.joinpath(f"{lang}.npz").read_bytes()
        assert len(raw) < 3_000_000
        with resources.as_file(folder.joinpath(f"{lang}.npz")) as path, zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                with zf.open(name) as member:
                    header = member.read(128)
                assert b"'O'" not in header and b"|O" not in header, name  # no object dtype
            with np.load(path, allow_pickle=False) as data:
                assert set(data.files) >= {"vocab", "idf", "coef", "intercept", "classes"}
        card = json.loads(folder.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        assert card["licence"] in ("MIT", "Apache-2.0") and card["rows"] > 1000
        assert 0.5 < card["cv"]["argmax"]["macro_f1"] <= 1
        model = load_shipped(lang)
        assert set(model.classes) == {"bullish", "bearish", "neutral"}


def test_a_damaged_model_is_an_input_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file that is not a model fails with the project's InputError naming it."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    bad.with_suffix(".json").write_text("{}")
    with pytest.raises(InputError, match=r"bad\.npz"):
        LinearTextModel.load(bad)


@pytest.mark.parametrize(
    ("text", "report"),
    [
        ("Apple Shares Jump After Record Quarter Results", True),
        ("$AAPL - Apple upgraded at Bank https://t.co/x", True),
        ("$ETH.X Loading up more here, I think we bounce", False),
        ("GM Hits New 52-Week High On Strong Sales", True),
        ("gm frens, wagmi 🚀 https://t.co/x", False),
        ("eth to the moon", False),
    ],
)
def test_reads_as_report(text: str, report: bool) -> None:
    """News: links out or is a headline, without first/second person, chat abbreviations or emoji."""
    assert reads_as_report(text) is report


def test_news_may_be_neutral_chat_leans() -> None:
    """A news-like headline may be labelled neutral by the model; chat is labelled by compound."""
    scorer = HybridScorer()
    row = scorer.score_one("Company X to present at the annual investor conference https://t.co/x")
    assert row["label"] == "neutral" and row["lang"] == "en"
    chat = scorer.score_one("loading more ETH here, this dip is a gift")
    assert chat["label"] == (
        "bullish" if chat["compound"] >= 0.05 else "bearish" if chat["compound"] <= -0.05 else "neutral"
    )
    assert abs(row["compound"] - (row["pos"] - row["neg"])) < 0.002


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab _'’!?.,$#🚀é\u00a0\u2003\t\n\x1c1")), max_size=40))
def test_tokens_piece_by_piece_equal_the_pattern_on_the_whole_text(text: str) -> None:
    """The cached piece-by-piece tokenizer gives exactly the word pattern's tokens of the whole text (no token
    spans whitespace, Unicode spaces included)."""
    assert learned._words(text) == learned._WORD.findall(text)


def _cells_by_lookup(model: LinearTextModel, texts: list[str]) -> list[dict[int, int]]:
    """Each text's known features counted the plain way: every string of ``text_features`` looked up."""
    counted: list[dict[int, int]] = []
    for text in texts:
        found: dict[int, int] = {}
        for col in map(model.index.get, text_features(text)):
            if col is not None:
                found[col] = found.get(col, 0) + 1
        counted.append(found)
    return counted


def _cells_counted(model: LinearTextModel, texts: list[str]) -> list[dict[int, int]]:
    rows, cols = model.feature_cells(texts)
    counted: list[dict[int, int]] = [{} for _ in texts]
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        counted[row][col] = counted[row].get(col, 0) + 1
    return counted


SHIPPED_EN = load_shipped("en")
_PIECES = ["the", "dip", "buy", "up", "not", "good", " ", "  ", "\t", "\u00a0", "!", "?", ".", "-", "'", "$ETH"]
_PIECES += ["$eth.X", "12%", "3.5", "http://x.co/a", "HTTPS://Y.IO", "www.", "🚀", "\ufe0f", "🏽", "ΣΑΣ", "İ", "é"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), max_size=6))
def test_feature_cells_are_the_looked_up_features(texts: list[str]) -> None:
    """The cached, id-based features of a batch are exactly the feature strings' columns, text by text (the
    shipped English model's vocabulary; links, cashtags, numbers, emoji and Unicode case and spaces included)."""
    assert _cells_counted(SHIPPED_EN, texts) == _cells_by_lookup(SHIPPED_EN, texts)


def test_feature_cells_on_a_model_fitted_here() -> None:
    """A model of a few texts (every bigram of its vocabulary is made of its unigrams) finds the same cells on new
    text, in batches of any size, with a cache that was filled by other texts first."""
    arrays, _ = fit_linear(TEXTS, LABELS, np.zeros((len(TEXTS), 1)), ("x",))
    model = LinearTextModel.from_arrays(arrays, {})
    new = ["shares jump after record quarter", "Shares JUMP, record revenue 🚀 https://t.co/x", "", "  ", *TEXTS[:5]]
    assert _cells_counted(model, new) == _cells_by_lookup(model, new)
    assert [_cells_counted(model, [t])[0] for t in new] == _cells_by_lookup(model, new)
