"""Tests for the WeChat variants: WeChatMsg TXT, PyWxDump CSV v3/v2, WechatExporter TXT and Excel re-saves."""

from __future__ import annotations

import csv
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.detect import detect_format, read_chat_export
from sentiment.chats.pywxdump import read_pywxdump_csv
from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.wechat import SELF_KEY
from sentiment.chats.wechat_txt import read_wechatexporter_txt, read_wechatmsg_txt
from sentiment.errors import EncodingError, ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("wechatmsg_group.txt", "wechat_wechatmsg_txt"),
        ("wechatexporter_index.txt", "wechat_exporter_txt"),
        ("pywxdump_v3_group.csv", "wechat_pywxdump_csv"),
        ("pywxdump_v3_excel_gbk.csv", "wechat_pywxdump_csv"),
    ],
)
def test_detects_each_variant_by_content(tmp_path: Path, name: str, fmt: str) -> None:
    """It recognises each WeChat variant from its bytes, even under a misleading file name."""
    renamed = tmp_path / "export.json"
    renamed.write_bytes((FIXTURES / name).read_bytes())
    assert detect_format(renamed) == fmt


def test_wechatmsg_txt_messages_media_and_nameless_system_lines() -> None:
    """It splits header/content blocks, reads nameless system lines as events and local times in the zone."""
    frame = read_wechatmsg_txt(FIXTURES / "wechatmsg_group.txt", SHANGHAI)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert len(frame) == 13
    first = frame.iloc[0]
    assert (first["author_key"], first["text"], first["ts"]) == (
        "Alice_VIRTUAL",
        "gm 各位，今天冲 🚀",
        _utc("2024-03-04T10:00:00"),
    )
    assert frame.iloc[1]["text"] == 'to the moon\nbuy more, "diamond hands"'
    assert frame.iloc[2]["media_type"] == "sticker"
    joins = frame[frame["kind"] == "join"]
    assert list(zip(joins["author_key"], joins["join_method"], joins["inviter_key"], strict=True)) == [
        ("Carol", "invite", "Alice"),
        ("Dave", "invite", "Alice"),
        ("Erin", "qr", "Alice"),
        ("Ivan", "invite", "Alice"),
        ("Judy", "invite", "Alice"),
    ]
    assert frame[frame["kind"] == "recall"]["author_key"].tolist() == ["Bob"]
    # escape_js_and_html escaped the quotes in the name; the quoted reply keeps only the reply's own text.
    assert 'Tom "Ape" Lee' in set(frame["author_key"])
    assert "同意，继续拿着" in set(frame["text"])
    # The same words by the same person in the same second are two records, with two ids.
    haha = frame[frame["text"] == "哈哈"]
    assert len(haha) == 2 and haha["message_id"].nunique() == 2
    assert frame["message_id"].is_unique
    assert read_wechatmsg_txt(FIXTURES / "wechatmsg_group.txt", NEW_YORK).iloc[0]["ts"] == _utc("2024-03-04T23:00:00")


def test_wechatmsg_txt_ids_are_stable_across_runs() -> None:
    """It gives the same content-hash ids on every read, so re-ingesting adds nothing."""
    a = read_wechatmsg_txt(FIXTURES / "wechatmsg_group.txt", SHANGHAI)
    b = read_wechatmsg_txt(FIXTURES / "wechatmsg_group.txt", SHANGHAI)
    assert a["message_id"].tolist() == b["message_id"].tolist()


def test_wechatmsg_txt_with_text_before_the_first_header_is_a_parse_error(tmp_path: Path) -> None:
    """It names the first line when the file does not start with a '{time} {name}' header."""
    path = tmp_path / "chat.txt"
    path.write_text("hello\n" + (FIXTURES / "wechatmsg_group.txt").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_wechatmsg_txt(path, SHANGHAI)
    assert info.value.line == 1


def test_pywxdump_v3_group() -> None:
    """It keys rows by MsgSvrID and room_name, renders quoted replies and system rows as events."""
    frame = read_pywxdump_csv(FIXTURES / "pywxdump_v3_group.csv", SHANGHAI).set_index("message_id")
    assert set(frame["chat_id"]) == {"12345678901@chatroom"}
    assert frame.loc["7250389143178417001", "ts"] == _utc("2024-03-04T10:00:00")
    assert frame.loc["7250389143178417002", "text"] == 'to the moon\nbuy more, "diamond hands"'
    assert frame.loc["7250389143178417003", "media_type"] == "image"
    assert frame.loc["7250389143178417004#1", ["kind", "author_key", "inviter_key"]].tolist() == [
        "join",
        "Carol",
        "Alice",
    ]
    assert frame.loc["7250389143178417005", ["kind", "author_key"]].tolist() == ["recall", "Bob"]
    assert frame.loc["7250389143178417006", "text"] == "同意，继续拿着"
    assert frame.loc["7250389143178417007", "media_type"] == "voice"
    assert frame.loc["7250389143178417008", "kind"] == "system"
    assert bool(frame.loc["7250389143178417009", "is_forward"])
    # Records start on their first physical line (multi-line quoted fields span several).
    assert frame.loc["7250389143178417006", "source_record"] == 8
    assert frame.loc["7250389143178417007", "source_record"] == 11


def test_pywxdump_excel_resave_gbk_and_short_times() -> None:
    """It reads a GBK file with Excel's 2024/10/4 11:42 times in the given zone and says it used GB18030."""
    frame = read_pywxdump_csv(FIXTURES / "pywxdump_v3_excel_gbk.csv", SHANGHAI)
    assert frame.attrs["encoding"] == "gb18030"
    assert frame["ts"].tolist() == [_utc("2024-10-04T03:42"), _utc("2024-10-04T03:43"), _utc("2024-10-04T04:05")]
    assert frame["text"].iloc[0] == "牛市来了"
    qr = frame.iloc[2]
    assert (qr["kind"], qr["join_method"], qr["author_key"], qr["inviter_key"]) == ("join", "qr", "张三", "李四")


def test_pywxdump_v2_json_content_and_owner_talker(tmp_path: Path) -> None:
    """It reads v2's JSON content column and maps the literal talker 我 to the account owner."""
    path = tmp_path / "v2.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "content", "CreateTime"])
        writer.writerow([1, 11, "文本", 1, "我", "wxid_peer", '{"src": "", "msg": "哦吼"}', "2023-08-12 23:22:54"])
        writer.writerow(
            [2, 12, "图片", 0, "wxid_peer", "wxid_peer", '{"src": "a.dat", "msg": "图片"}', "2023-08-12 23:23:00"]
        )
    frame = read_pywxdump_csv(path, SHANGHAI)
    assert frame["author_key"].tolist() == [SELF_KEY, "wxid_peer"]
    assert frame["text"].iloc[0] == "哦吼"
    assert frame["kind"].tolist() == ["message", "media"]


def test_pywxdump_bad_record_strict_and_skipped(tmp_path: Path) -> None:
    """It fails on a bad CreateTime naming the line, or with a rejects list stores it and keeps the rest."""
    lines = (FIXTURES / "pywxdump_v3_group.csv").read_bytes().decode("utf-8").split("\r\n")
    lines[1] = lines[1].replace("2024-03-04 18:00:00", "yesterday")
    path = tmp_path / "bad.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    with pytest.raises(ParseError, match="unreadable CreateTime 'yesterday'") as info:
        read_pywxdump_csv(path, SHANGHAI)
    assert info.value.line == 2
    rejects: list[tuple[int, str, str]] = []
    frame = read_pywxdump_csv(path, SHANGHAI, rejects=rejects)
    assert [(r[0], r[2]) for r in rejects] == [(2, "unreadable CreateTime 'yesterday'")]
    assert "yesterday" in rejects[0][1]
    assert len(frame) == len(read_pywxdump_csv(FIXTURES / "pywxdump_v3_group.csv", SHANGHAI)) - 1


def test_wechatexporter_txt() -> None:
    """It reads NAME (TIME):MESSAGE lines, multi-line messages, bare system lines and quoted replies."""
    frame = read_wechatexporter_txt(FIXTURES / "wechatexporter_index.txt", SHANGHAI)
    assert set(frame["chat_name"]) == {"VIRTUAL 月球俱乐部"}
    assert frame.iloc[0]["ts"] == _utc("2024-03-04T10:00:00")
    assert frame.iloc[1]["text"] == 'to the moon\nbuy more, "diamond hands"'
    joins = frame[frame["kind"] == "join"]
    assert joins["author_key"].tolist() == ["Carol", "Dave"]
    # A notice has no time of its own: it takes the previous message's.
    assert (joins["ts"] == _utc("2024-03-04T10:00:30")).all()
    assert frame[frame["kind"] == "media"]["media_type"].tolist() == ["image", "sticker"]
    assert frame[frame["kind"] == "recall"]["author_key"].tolist() == ["Bob"]
    assert "同意，继续拿着" in set(frame["text"])
    assert len(frame) == 9


def test_gb18030_wechatmsg_txt_matches_utf8(tmp_path: Path) -> None:
    """It reads a GB18030 copy of a TXT export exactly like the UTF-8 one (emoji survive: GB18030 covers them)."""
    path = tmp_path / "wechatmsg_group.txt"
    path.write_bytes((FIXTURES / "wechatmsg_group.txt").read_text(encoding="utf-8").encode("gb18030"))
    fmt, frame = read_chat_export(path, "auto", SHANGHAI)
    assert fmt == "wechat_wechatmsg_txt"
    pd.testing.assert_frame_equal(frame, read_wechatmsg_txt(FIXTURES / "wechatmsg_group.txt", SHANGHAI))


def test_neither_encoding_is_a_clear_error(tmp_path: Path) -> None:
    """It raises EncodingError naming the line when the bytes are neither UTF-8 nor GB18030."""
    path = tmp_path / "chat.txt"
    path.write_bytes(b"2024-03-04 18:00:00 A\nok\n\n2024-03-04 18:00:01 B\n\xff\xfe\n")
    with pytest.raises(EncodingError) as info:
        read_wechatmsg_txt(path, SHANGHAI)
    assert info.value.line == 5


def test_pywxdump_v2_conformance(shared_samples: Path) -> None:
    """It parses the real PyWxDump v2 export (WeClone example): 35 records, 26 text, 5 stickers, 3 images, 1 system."""
    path = shared_samples / "chat" / "wechat" / "pywxdump_v2_weclone_example_chat.csv"
    assert detect_format(path) == "wechat_pywxdump_csv"
    frame = read_pywxdump_csv(path, SHANGHAI)
    # Counted independently: one record per line starting "<id>,<MsgSvrID>," (no field spans lines in this file).
    expected = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.split(",")[0].isdigit())
    assert expected == 35
    assert len(frame) == expected
    assert frame["kind"].value_counts().to_dict() == {"message": 26, "media": 8, "system": 1}
    assert frame["media_type"].value_counts().to_dict() == {"sticker": 5, "image": 3}
    assert (frame["kind"] == "join").sum() == 0
    assert frame["message_id"].is_unique
    assert set(frame["chat_id"]) == {"xinglaifaxianzhe"}
    assert (frame[frame["author_key"] == SELF_KEY]["kind"] != "system").all()
