"""Tests for the WhatsApp .txt reader: header grammar, day/month inference, system lines, media, conformance."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.whatsapp import SELF_KEY, day_first, parse_header, read_whatsapp_txt, wall_time
from sentiment.errors import EncodingError, ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "chat" / "whatsapp"
BERLIN = ZoneInfo("Europe/Berlin")


def _read(name: str, tz: ZoneInfo | None = None) -> pd.DataFrame:
    return read_whatsapp_txt(FIXTURES / name, tz or UTC)


def test_android_24h_events_and_messages() -> None:
    """It maps every Android system line to its kind and keeps multi-line, phone-number and ': ' authors."""
    frame = _read("whatsapp_android_24h.txt")
    assert tuple(frame.columns) == RAW_COLUMNS
    # 18 lines, 4 of them continuations: 14 records; "You added A, B and C" is one record with three joins.
    assert frame["source_record"].nunique() == 14 and len(frame) == 16
    joins = frame[frame["kind"] == "join"]
    assert list(joins["author_key"]) == ["Alice", "Bob", "Dr: Who", "+44 7700 900123"]
    assert list(joins["join_method"]) == ["invite", "invite", "invite", "link"]
    assert list(joins["inviter_key"].fillna("-")) == [SELF_KEY, SELF_KEY, SELF_KEY, "-"]
    by_kind = frame.groupby("kind")["author_key"].apply(list).to_dict()
    assert by_kind["remove"] == ["Bob"] and by_kind["leave"] == ["+44 7700 900123"]
    assert by_kind["recall"] == ["Bob"]
    assert frame.loc[frame["kind"] == "rename", "text"].tolist() == ["VIRTUAL Holders"]
    dr = frame[(frame["author_key"] == "Dr: Who") & (frame["kind"] == "message")]
    assert dr["text"].tolist() == ["ratio: 3:1 bullish"]
    phone = frame[(frame["author_key"] == "+44 7700 900123") & (frame["kind"] == "message")].iloc[0]
    assert phone["text"] == "hi all\nis this the $VIRTUAL chat?\n\nthanks"
    media = frame[frame["kind"] == "media"]
    assert list(media["media_type"]) == ["unknown", "image"]
    assert media["text"].tolist()[1] == "chart looks good"
    edited = frame[frame["edited"]]
    assert edited["text"].tolist() == ["moon soon"]
    assert frame.loc[frame["text"].str.contains("end-to-end", na=False), "kind"].tolist() == ["system"]


def test_wall_time_converted_with_tz() -> None:
    """It reads wall-clock times in the given zone and stores UTC (Berlin is UTC+1 in March)."""
    utc = _read("whatsapp_android_24h.txt")
    berlin = _read("whatsapp_android_24h.txt", BERLIN)
    assert (utc["ts"] - berlin["ts"]).unique().tolist() == [pd.Timedelta(hours=1)]
    assert utc["ts"].iloc[0] == pd.Timestamp("2024-03-12 09:00", tz="UTC")
    assert utc["message_id"].tolist() == berlin["message_id"].tolist()


def test_us_12h_with_narrow_nbsp_is_month_first() -> None:
    """It reads m/d/yy with AM/PM (incl. U+202F before it), CRLF endings, and '12:30 AM' as 00:30."""
    frame = _read("whatsapp_android_12h_us.txt")
    assert len(frame) == 8
    assert frame["ts"].iloc[3] == pd.Timestamp("2024-01-13 11:59", tz="UTC")
    assert frame["ts"].iloc[4] == pd.Timestamp("2024-01-13 12:00", tz="UTC")
    assert frame["ts"].iloc[5] == pd.Timestamp("2024-01-13 00:30", tz="UTC")
    join = frame[frame["kind"] == "join"]
    assert join["author_key"].tolist() == [SELF_KEY, "Dave"]
    assert join["join_method"].tolist() == ["invite", "link"]
    assert join["inviter_key"].iloc[0] == "Carol" and pd.isna(join["inviter_key"].iloc[1])
    assert not frame["text"].str.endswith("\r", na=False).any()


def test_ios_brackets_lrm_system_lines_attributed_to_group() -> None:
    """It reads iOS '[d/m/y, h:m:s] ' lines with leading U+200E and the group-attributed system lines."""
    frame = _read("whatsapp_ios_brackets.txt")
    assert len(frame) == 8
    assert frame["kind"].tolist() == ["system", "system", "join", "message", "media", "media", "message", "leave"]
    assert frame["author_key"].tolist()[2] == "Frank" and frame["inviter_key"].tolist()[2] == "Erin"
    assert "VIRTUAL Whales" not in set(frame["author_key"].dropna())
    assert frame["ts"].iloc[3] == pd.Timestamp("2024-04-05 14:05:42", tz="UTC")
    assert frame["text"].iloc[6] == "line one\nline two"


def test_dotted_dates_and_german_attachment() -> None:
    """It reads dd.mm.yy, an empty message, a ': ' inside the text and '(Datei angehängt)' with a caption."""
    frame = _read("whatsapp_dotted.txt")
    assert frame["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-02-03 18:42",
        "2024-02-03 18:43",
        "2024-02-04 07:10",
        "2024-02-11 22:05",
    ]
    assert frame["text"].iloc[2] == "Guten Morgen: alles gut?"
    assert pd.isna(frame["text"].iloc[1]) and frame["kind"].iloc[1] == "message"
    assert (frame["kind"].iloc[3], frame["media_type"].iloc[3]) == ("media", "image")
    assert frame["text"].iloc[3] == "Dir auch frohe Ostern."


def test_ambiguous_order_resolved_by_later_day_over_12() -> None:
    """It reads 05/03 as 5 March because a later line has 25 in the first field (with 'p. m.' and NBSP)."""
    frame = _read("whatsapp_ambiguous_latam.txt")
    assert frame["ts"].dt.strftime("%m-%d %H:%M").tolist() == [
        "03-05 13:55",
        "03-05 13:56",
        "03-09 10:00",
        "03-25 23:30",
    ]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["13/01/20", "01/02/20"], True),
        (["01/13/20", "02/01/20"], False),
        # No field above 12: the order that keeps dates chronological wins.
        (["06/03/2017", "08/05/2017", "09/04/2017"], False),
        (["03/06/2017", "05/08/2017", "04/09/2017"], True),
        (["3/6/18"], True),
    ],
)
def test_day_first_inference(dates: list[str], expected: bool) -> None:
    """It infers the day/month order of a file from all its dates."""
    assert day_first(dates) is expected


def test_content_ids_are_stable_and_distinct(tmp_path: Path) -> None:
    """It gives identical repeated lines distinct ids, and the same ids when the file is read again elsewhere."""
    lines = "01/02/2024, 10:00 - A: gm\n01/02/2024, 10:00 - A: gm\n01/02/2024, 10:01 - B: gm\n"
    one = tmp_path / "a.txt"
    one.write_text(lines, encoding="utf-8")
    two = tmp_path / "b.txt"
    two.write_text(lines + "02/02/2024, 09:00 - B: later\n", encoding="utf-8")
    first = read_whatsapp_txt(one, UTC)["message_id"].tolist()
    assert len(set(first)) == 3
    assert read_whatsapp_txt(two, UTC)["message_id"].tolist()[:3] == first


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    """It raises ParseError for a file not starting with a message and EncodingError for non-UTF-8 bytes."""
    bad = tmp_path / "chat.txt"
    bad.write_text("hello there\n01/02/2024, 10:00 - A: gm\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_whatsapp_txt(bad, UTC)
    assert (info.value.path, info.value.line) == (str(bad), 1)
    invalid = tmp_path / "date.txt"
    invalid.write_text("01/02/2024, 10:00 - A: gm\n31/02/2024, 10:00 - A: gm\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_whatsapp_txt(invalid, UTC)
    assert info.value.line == 2
    latin = tmp_path / "latin.txt"
    latin.write_bytes("01/02/2024, 10:00 - Zoë: olá\n".encode("latin-1"))
    with pytest.raises(EncodingError) as enc:
        read_whatsapp_txt(latin, UTC)
    assert enc.value.line == 1


# ---- conformance: real files and the header strings of whatsapp-chat-parser's own tests -----------------
@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples not present")
    return SAMPLES


def _starts(path: Path) -> list[str]:
    """Lines that open a record, by the plain Android layout these two files use (dd/mm/yy[yy], HH:MM - )."""
    return [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\d\d/\d\d/\d\d(\d\d)?, \d\d:\d\d - ", line)
    ]


@pytest.mark.parametrize("name", ["chat-miner_test_ddmmyy_24hrs.txt", "whatsapp-chat-parser_short-chat.txt"])
def test_conformance_record_counts(samples: Path, name: str) -> None:
    """It yields one row per record of each real export, joins where the file says someone was added."""
    path = samples / name
    starts = _starts(path)
    frame = read_whatsapp_txt(path, UTC)
    assert len(frame) == len(starts)
    added = [s for s in starts if s.endswith((" were added", " added you")) or " joined using " in s]
    assert (frame["kind"] == "join").sum() == len(added)
    # Every system line of the file (no "Name: " after the dash) is an event row, not a message.
    authorless = [s for s in starts if ": " not in s.split(" - ", 1)[1]]
    assert (frame["kind"] != "message").sum() >= len(authorless) - 1  # "John Doe:." has no ": " yet is a message


def test_chat_miner_phone_and_emoji_authors(samples: Path) -> None:
    """It keeps phone-number, emoji and ' : '-containing texts, and the multi-line last message."""
    frame = read_whatsapp_txt(samples / "chat-miner_test_ddmmyy_24hrs.txt", UTC)
    assert "🤓" in set(frame["author_key"])
    assert frame["text"].iloc[-1].count("\n") == 1
    assert frame.loc[frame["kind"] == "join", "author_key"].tolist() == [SELF_KEY]


def _ts_strings(source: str, pattern: str) -> dict[str, str]:
    return {
        m[1]: m[2].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        for m in re.finditer(pattern, source)
    }


def test_header_grammar_on_whatsapp_chat_parser_variants(samples: Path) -> None:
    """Every date/time variant string in whatsapp-chat-parser's tests parses to the instant the test expects."""
    source = (samples / "whatsapp-chat-parser_parser.test.ts.txt").read_text(encoding="utf-8")
    formats = _ts_strings(source, r"const (format\d+) = \[\{ system: false, msg: '((?:[^'\\]|\\.)*)' \}\]")
    expected = dict(re.findall(r"const (expected\d) = '([^']+)'", source))
    pairs = re.findall(r"expect\(parsed(\d+)\[0\]\.date\.toISOString\(\)\)\.toBe\((expected\d)\)", source)
    assert len(formats) == 12 and len(pairs) == 12
    for number, which in pairs:
        line = formats[f"format{number}"]
        header = parse_header(line)
        assert header is not None, line
        assert header.rest == "a: m", line
        want = datetime.fromisoformat(expected[which].replace("Z", "+00:00")).replace(tzinfo=None)
        assert wall_time(header, day_first([header.date])) == want, line


def test_multiline_system_and_attachment_strings(samples: Path, tmp_path: Path) -> None:
    """The parser tests' multi-line, empty, system and attachment messages read as the tests describe."""
    source = (samples / "whatsapp-chat-parser_parser.test.ts.txt").read_text(encoding="utf-8")
    assert parse_header("two") is None and parse_header("2016-04-29 10:30:00") is None
    attachments = [v for k, v in _ts_strings(source, r"const (format\d)\s*=\s*'((?:[^'\\]|\\.)*)';").items()]
    assert len(attachments) == 4
    body = [
        "23/06/2018, 01:55 p.m. - Loris: one",
        "two",
        "2016-04-29 10:30:00",
        "03/02/17, 18:42 - Luke: ",
        '06/03/2017, 00:45 - You created group "Test"',
        *attachments,
    ]
    path = tmp_path / "chat.txt"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    frame = read_whatsapp_txt(path, UTC)
    assert frame["text"].iloc[0] == "one\ntwo\n2016-04-29 10:30:00"
    assert (frame["kind"].iloc[1], frame["author_key"].iloc[1]) == ("message", "Luke")
    assert (frame["kind"].iloc[2], frame["author_key"].iloc[2]) == ("system", SELF_KEY)
    assert frame["kind"].iloc[3:].tolist() == ["media"] * 4
    assert frame["media_type"].iloc[3:].tolist() == ["image"] * 4
    assert frame["text"].iloc[-1] == "Dir auch frohe Ostern."


def test_twelve_hour_clock_with_hour_zero(tmp_path: Path) -> None:
    """'00:08 a. m.' (some Android locales, first hour after midnight) is 00:08; '00:08 p. m.' is refused."""
    path = tmp_path / "WhatsApp Chat with Crypto Club.txt"
    path.write_text(
        "06/20/2020, 00:08 a. m. - Ana: gm\n06/20/2020, 12:30 a. m. - Bo: gn\n06/20/2020, 1:15 p. m. - Ana: pump\n",
        encoding="utf-8",
    )
    frame = read_whatsapp_txt(path, UTC)
    assert [t.strftime("%H:%M") for t in frame["ts"]] == ["00:08", "00:30", "13:15"]
    path.write_text("06/20/2020, 00:08 p. m. - Ana: gm\n", encoding="utf-8")
    with pytest.raises(ParseError, match="hour 0"):
        read_whatsapp_txt(path, UTC)
