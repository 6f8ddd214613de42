"""Tests for --redact: phone numbers, e-mail addresses and wallet addresses masked; ordinary numbers kept."""

from __future__ import annotations

import pandas as pd
import pytest

from sentiment.privacy import redact_messages, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +86 138 0013 8000 now", "call [phone] now"),
        ("my cell 13800138000.", "my cell [phone]."),
        ("US (415) 555-2671 ok", "US [phone] ok"),
        ("415.555.2671", "[phone]"),
        ("+44 20 7946 0958", "[phone]"),
        ("mail a.b+c@ex-ample.co.uk pls", "mail [email] pls"),
        ("send to 0x52908400098527886E0F7030069857D2E4169EE7 thx", "send to [wallet] thx"),
        ("btc bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "btc [wallet]"),
        ("legacy 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "legacy [wallet]"),
        ("p2sh 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy!", "p2sh [wallet]!"),
        ("sol 7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV ok", "sol [wallet] ok"),
    ],
)
def test_masks(text: str, expected: str) -> None:
    """It masks each kind of contact detail and address."""
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "bought 1000000 VIRTUAL at 1.2345",
        "tx 0.5 ETH, 1,234,567.89 USDT",
        "date 2024-03-04 18:00:00",
        "block 19283746 confirmed",
        "+5% today, +12.5% this week",
        "tx hash 0x" + "ab" * 32,
        "0x1234 is too short for an address",
        "internationalization_is_a_very_long_word_here",
        "ABCDEFGHJKLMNPQRSTUVWXYZabcdefgh",
        "price target 0.00001234 by 2025",
        "https://example.com/path?id=12345678",
        "@alice_2024 gm",
    ],
)
def test_leaves_ordinary_text(text: str) -> None:
    """It leaves ordinary numbers, amounts, dates, hashes and words alone."""
    assert redact_text(text) == text


def test_redact_messages_only_touches_text() -> None:
    """It masks the text column and keeps nulls and every other column."""
    raw = pd.DataFrame({"text": ["ping me at bob@x.io", None], "author_key": ["bob@x.io", "a"]})
    out = redact_messages(raw)
    assert out["text"].iloc[0] == "ping me at [email]"
    assert pd.isna(out["text"].iloc[1])
    assert out["author_key"].tolist() == ["bob@x.io", "a"]
