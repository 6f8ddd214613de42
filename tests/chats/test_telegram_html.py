"""Tests for the Telegram Desktop HTML export reader (fixtures hand-written in the exporter's exact layout)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.detect import detect_format, iter_chat_export, read_chat_export
from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.telegram_html import export_pages, iter_telegram_html_batches
from sentiment.steps.ingest import expand_chat_paths

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
GROUP = FIXTURES / "telegram_html_group"
PERSONAL = FIXTURES / "telegram_html_personal"
SAMPLES = Path(__file__).parents[2] / ".." / "shared" / "samples" / "chat" / "telegram_html"


@pytest.fixture(scope="module")
def group() -> pd.DataFrame:
    fmt, frame = read_chat_export(GROUP, tz=ZoneInfo("Europe/Berlin"))
    assert fmt == "telegram_html"
    return frame.set_index("message_id")


def test_detected_from_folder_or_any_page() -> None:
    """The folder and each of its pages are recognised by content, whatever the file is called."""
    assert detect_format(GROUP) == "telegram_html"
    assert detect_format(GROUP / "messages2.html") == "telegram_html"
    assert detect_format(PERSONAL / "messages.html") == "telegram_html"


def test_any_page_reads_the_whole_export(group: pd.DataFrame) -> None:
    """Reading through the second page reads both pages, in page order, as one export."""
    _, frame = read_chat_export(GROUP / "messages2.html", tz=ZoneInfo("Europe/Berlin"))
    assert tuple(frame.columns) == RAW_COLUMNS
    assert list(frame["message_id"]) == list(group.index)
    assert list(frame["source_file"].unique()) == ["messages.html", "messages2.html"]
    assert expand_chat_paths([GROUP / "messages.html", GROUP / "messages2.html", GROUP]) == [GROUP]


def test_pages_in_numeric_order(tmp_path: Path) -> None:
    """messages10.html comes after messages9.html, and messages.html is page 1."""
    for name in ("messages10.html", "messages.html", "messages9.html", "messages2.html", "notes.html"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in export_pages(tmp_path / "messages9.html")] == [
        "messages.html",
        "messages2.html",
        "messages9.html",
        "messages10.html",
    ]


def test_times_with_offset_and_without(group: pd.DataFrame) -> None:
    """A UTC+02:00 title is converted exactly; a title without offset is read in the given zone."""
    assert group.loc["7", "ts"] == pd.Timestamp("2025-03-03 07:15:02", tz="UTC")
    assert group.loc["19", "ts"] == pd.Timestamp("2025-03-04 10:30:00", tz="UTC")  # 11:30 Berlin winter time


def test_joined_messages_inherit_the_sender(group: pd.DataFrame) -> None:
    """A joined message takes the sender of the previous header on its page; 'via @bot' is not the name."""
    assert group.loc["8", "author_key"] == "Priya Vandermeer"
    assert group.loc["12", "author_key"] == "Mara Linde"
    assert group.loc["9", "author_key"] == "Olek Brandt"


def test_text_entities_line_breaks_and_escapes(group: pd.DataFrame) -> None:
    """Text keeps links/bold as plain text, <br> as a newline, HTML escapes decoded; reactions/buttons dropped."""
    assert group.loc["7", "text"] == "gm all, $MOON looks strong today\nto the moon & back '24"
    assert group.loc["9", "text"] == "dump incoming, #rekt"


def test_reactions_counted_with_and_without_count(group: pd.DataFrame) -> None:
    """3 fire (a count) + 1 thumbs-up (one reactor userpic, no count) = 4."""
    assert group.loc["7", "reactions"] == 4
    assert pd.isna(group.loc["9", "reactions"])


def test_replies_within_and_across_pages(group: pd.DataFrame) -> None:
    """Reply ids come from the go_to_message link, also when it points at an earlier page."""
    assert group.loc["9", "reply_to"] == "7"
    assert group.loc["14", "reply_to"] == "9"


def test_forward_and_media(group: pd.DataFrame) -> None:
    """The forwarded body's text is the message text; media blocks map to the JSON reader's media types."""
    assert bool(group.loc["11", "is_forward"]) and group.loc["11", "text"] == "Exchange listing confirmed for MOON"
    assert group.loc["11", "author_key"] == "Mara Linde"  # who posted it here, not the original author
    assert (group.loc["8", "kind"], group.loc["8", "media_type"]) == ("media", "sticker")
    assert group.loc["12", "media_type"] == "poll"
    assert group.loc["14", "media_type"] == "voice"


def test_service_events(group: pd.DataFrame) -> None:
    """Invites (one row per member), link joins with inviter, leaving, removal, rename and other events."""
    invited = group.loc[["6#1", "6#2", "6#3"]]
    assert list(invited["author_key"]) == ["Priya Vandermeer", "Olek Brandt", "Sunny Day"]
    assert set(invited["join_method"]) == {"invite"} and set(invited["inviter_key"]) == {"Quentin Ashdown"}
    link = group.loc["10"]
    assert (link["kind"], link["join_method"], link["inviter_key"]) == ("join", "link", "Quentin Ashdown")
    assert (group.loc["15", "kind"], group.loc["15", "author_key"]) == ("leave", "Olek Brandt")
    assert (group.loc["16", "kind"], group.loc["16", "author_key"]) == ("remove", "Sunny Day")
    assert (group.loc["17", "kind"], group.loc["17", "text"]) == ("rename", "Moonbase Traders DAO")
    assert (group.loc["18", "kind"], group.loc["18", "author_key"]) == ("system", "Quentin Ashdown")
    assert group.loc["5", "kind"] == "system"


def test_service_events_follow_the_previous_message_of_their_day(group: pd.DataFrame) -> None:
    """A service block has no time: it gets its predecessor's time that day, else the day's start."""
    assert group.loc["10", "ts"] == group.loc["9", "ts"]
    assert group.loc["15", "ts"] == group.loc["14", "ts"]
    assert group.loc["5", "ts"] == pd.Timestamp("2025-03-02 23:00", tz="UTC")  # Berlin midnight, no offset seen yet


def test_unreadable_blocks_are_skipped_and_counted() -> None:
    """A joined block opening a page, a block without an id and an event in a date separator are counted."""
    frames = list(iter_telegram_html_batches(GROUP, UTC))
    skipped = frames[-1].attrs["skipped"]
    assert skipped == {
        "joined message without a sender on its page": 1,
        "block without a message id": 1,
        "date separator without a date": 1,
    }
    assert "13" not in set(pd.concat(frames)["message_id"])


def test_batches_are_bounded_and_equal_one_read(group: pd.DataFrame) -> None:
    """Small batches give the same rows as one read."""
    frames = list(iter_telegram_html_batches(GROUP, ZoneInfo("Europe/Berlin"), batch_rows=3))
    assert max(len(f) for f in frames) <= 3 + 2  # a batch closes after the block that filled it
    assert list(pd.concat(frames)["message_id"]) == list(group.index)


def test_group_vs_personal_chat() -> None:
    """A chat with group events is a group; a two-person chat named after the other person is private."""
    _, group = read_chat_export(GROUP, tz=UTC)
    _, personal = read_chat_export(PERSONAL, tz=UTC)
    assert not group["chat_private"].any()
    assert personal["chat_private"].all()
    assert set(personal["chat_name"]) == {"Henrietta Okonkwo-Lindqvist"}
    assert personal["media_type"].isna().iloc[0] and personal["media_type"].iloc[1] == "image"  # a photo_wrap


def test_wall_time_flag() -> None:
    """The reader says whether it read a time without an offset (so --tz mattered)."""
    _, personal = iter_chat_export(PERSONAL, tz=UTC)
    assert list(personal)[-1].attrs["wall_time"] is True


def test_single_renamed_page(tmp_path: Path) -> None:
    """A lone page saved under another name is still read by content."""
    page = tmp_path / "chat-backup.html"
    shutil.copy(PERSONAL / "messages.html", page)
    fmt, frame = read_chat_export(page, tz=UTC)
    assert fmt == "telegram_html" and len(frame) == 2


@pytest.mark.parametrize("sample", ["bot_chat_2025", "devs_chat_2019", "quoxent_2020"])
def test_real_samples_counted_independently(sample: str) -> None:
    """Every real sample: rows = normal blocks + service rows, counted with regexes over the raw HTML."""
    folder = SAMPLES / sample
    if not folder.is_dir():
        pytest.skip("../shared/samples not present")
    html = "".join(p.read_text("utf-8") for p in sorted(folder.glob("messages*.html")))
    normal = len(re.findall(r'class="message default clearfix(?: joined)?" id="message\d+"', html))
    services = re.findall(
        r'class="message service" id="message(\d+)">\s*<div class="body details">\s*(.*?)\s*</div>', html
    )
    expected = normal
    for _, text in services:
        # Telegram lists members as "B, C and D"; "A invited A" (same name both sides) is one self-join.
        invited = re.match(r"(.+?) invited (.+)$", text)
        if invited and invited.group(2) != invited.group(1) and " and " in invited.group(2):
            expected += invited.group(2).rpartition(" and ")[0].count(", ") + 2
        else:
            expected += 1
    _, frame = read_chat_export(folder, tz=UTC)
    assert len(frame) == expected
    assert frame.attrs["skipped"] == {}
    assert (frame["kind"].isin(["message", "media"])).sum() == normal
