"""Tests for the MemoTrace/WeChatMsg CSV reader and the WeChat system-text decoder."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.wechat import SELF_KEY, SystemEvent, parse_system_text, read_memotrace_csv, system_text
from sentiment.errors import EncodingError, ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
GROUP = FIXTURES / "memotrace_group.csv"
SAMPLE = (
    Path(__file__).parents[2] / ".." / "shared" / "samples" / "chat" / "wechat" / "memotrace_csv_fixture_socialclaw.csv"
)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def group() -> pd.DataFrame:
    return read_memotrace_csv(GROUP, SHANGHAI).set_index("message_id")


def test_columns_ids_and_times(group: pd.DataFrame) -> None:
    """It returns the raw columns, chat_id from TalkerId, chat_name from the file and CreateTime as UTC."""
    frame = read_memotrace_csv(GROUP, SHANGHAI)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert set(frame["chat_id"]) == {"48"}
    assert set(frame["chat_name"]) == {"memotrace_group"}
    assert set(frame["platform"]) == {"wechat"}
    assert group.loc["5001", "ts"] == pd.Timestamp("2024-03-04T10:00:00", tz="UTC")
    assert group.loc["5001", "text"] == "gm 各位，今天冲 🚀"
    assert group.loc["5001", "author_key"] == "wxid_alice01"
    assert group.loc["5001", "author_name"] == "Alice"


def test_multiline_message_and_physical_lines(group: pd.DataFrame) -> None:
    """It keeps a quoted multi-line message whole and numbers records by the line they start on."""
    assert group.loc["5002", "text"] == 'to the moon\nbuy more, "diamond hands"'
    assert group.loc["5001", "source_record"] == 2
    assert group.loc["5002", "source_record"] == 3
    assert group.loc["5003", "source_record"] == 5
    lines = GROUP.read_bytes().split(b"\n")
    assert lines[4].startswith(b"5003,")


def test_sticker_xml_is_media(group: pd.DataFrame) -> None:
    """It maps a Type 47 row with XML content to a sticker media record without the XML as text."""
    assert (group.loc["5003", "kind"], group.loc["5003", "media_type"]) == ("media", "sticker")
    assert pd.isna(group.loc["5003", "text"])


def test_ragged_nine_field_row(group: pd.DataFrame) -> None:
    """It tolerates a 9-field row, leaving the unknown sender null."""
    row = group.loc["5009"]
    assert (row["kind"], row["text"]) == ("message", "这一行只有九个字段")
    assert pd.isna(row["author_key"]) and pd.isna(row["author_name"])


def test_quoted_reply_uses_title(group: pd.DataFrame) -> None:
    """It reads a 49/57 quoted reply as a message whose text is the reply's title."""
    assert (group.loc["5010", "kind"], group.loc["5010", "text"]) == ("message", "同意，继续拿着")


def test_chinese_invite_of_two(group: pd.DataFrame) -> None:
    """It yields one invite join per member named in a Chinese invite text, with the inviter."""
    joins = group.loc[["5004#1", "5004#2"]]
    assert list(joins["author_key"]) == ["Carol", "Dave"]
    assert set(joins["join_method"]) == {"invite"} and set(joins["inviter_key"]) == {"Alice"}
    assert set(joins["kind"]) == {"join"} and set(joins["source_record"]) == {6}


def test_qr_joins(group: pd.DataFrame) -> None:
    """It maps Chinese and English QR-code joins to join_method=qr with the sharer as inviter."""
    assert tuple(group.loc["5005", ["kind", "join_method", "author_key", "inviter_key"]]) == (
        "join",
        "qr",
        "Erin",
        "Alice",
    )
    assert tuple(group.loc["5007", ["kind", "join_method", "author_key", "inviter_key"]]) == (
        "join",
        "qr",
        "Grace",
        "Bob",
    )


def test_english_invites(group: pd.DataFrame) -> None:
    """It reads quoted and unquoted English invite texts, splitting 'A, B'."""
    assert tuple(group.loc["5006", ["join_method", "author_key", "inviter_key"]]) == (
        "invite",
        "Frank",
        "Alice",
    )
    assert list(group.loc[["5013#1", "5013#2"], "author_key"]) == ["Ivan", "Judy"]


def test_invite_by_owner(group: pd.DataFrame) -> None:
    """It names the exporting account as inviter of '你邀请...' joins."""
    assert tuple(group.loc["5012", ["author_key", "inviter_key"]]) == ("Heidi", SELF_KEY)


def test_recall_and_rename(group: pd.DataFrame) -> None:
    """It maps a revokemsg XML recall and a rename text to their kinds and actors."""
    assert tuple(group.loc["5008", ["kind", "author_key", "text"]]) == (
        "recall",
        "Bob",
        '"Bob" 撤回了一条消息',
    )
    assert tuple(group.loc["5011", ["kind", "author_key", "text"]]) == (
        "rename",
        "Alice",
        "VIRTUAL 月球俱乐部",
    )


def _rewrite(rows: list[list[str]], path: Path) -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")


def test_descending_row_order(tmp_path: Path, group: pd.DataFrame) -> None:
    """It reads a file written newest-first to the same records."""
    with GROUP.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    path = tmp_path / "memotrace_group.csv"
    _rewrite([rows[0], *reversed(rows[1:])], path)
    frame = read_memotrace_csv(path, SHANGHAI).set_index("message_id")
    cols = ["kind", "ts", "author_key", "join_method", "inviter_key", "text"]
    pd.testing.assert_frame_equal(frame.sort_index()[cols], group.sort_index()[cols])


def test_several_talker_ids_keep_keys_unique(tmp_path: Path) -> None:
    """It keys a file spanning several TalkerIds (MSG*.db shards) by name, qualifying message ids."""
    with GROUP.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    rows.append(["5001", "49", *rows[1][2:]])
    path = tmp_path / "group.csv"
    _rewrite(rows, path)
    frame = read_memotrace_csv(path, SHANGHAI)
    assert frame["chat_id"].nunique() == 1 and frame["chat_id"].iloc[0].startswith("h:")
    assert {"48:5001", "49:5001"} <= set(frame["message_id"])
    assert not frame["message_id"].duplicated().any()


def test_gb18030_resave_reads_like_the_utf8_file(tmp_path: Path) -> None:
    """It reads a GB18030 (Excel re-saved) copy exactly like the UTF-8 original and says which encoding it used."""
    path = tmp_path / "memotrace_group.csv"
    path.write_bytes(GROUP.read_text(encoding="utf-8-sig").encode("gb18030"))
    resaved = read_memotrace_csv(path, UTC)
    original = read_memotrace_csv(GROUP, UTC)
    assert resaved.attrs["encoding"] == "gb18030"
    assert original.attrs["encoding"] == "utf-8-sig"
    pd.testing.assert_frame_equal(resaved, original)


def test_neither_utf8_nor_gb18030_names_first_bad_line(tmp_path: Path) -> None:
    """It raises EncodingError naming the first line that is not UTF-8 when GB18030 fails too."""
    path = tmp_path / "group.csv"
    lines = GROUP.read_bytes().split(b"\r\n")
    lines[1] = lines[1] + b"\xff\xff"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(EncodingError) as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: ")


def test_invalid_utf8_far_into_file(tmp_path: Path) -> None:
    """It finds the exact line of an invalid byte beyond the decoder's first chunk."""
    header = GROUP.read_bytes().split(b"\r\n")[0]
    rows = [
        f"{i},48,1,0,0,{1709546400 + i},2,message {i},2024-03-04 18:00:00,A,A,wxid_a".encode() for i in range(1, 3000)
    ]
    rows[1999] = rows[1999].replace(b"message", b"mess\xc3\x28age")
    path = tmp_path / "big.csv"
    path.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    with pytest.raises(EncodingError) as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == 2001


def test_short_record_names_line(tmp_path: Path) -> None:
    """It raises ParseError naming the line of a record with too few fields."""
    path = tmp_path / "group.csv"
    path.write_bytes(GROUP.read_bytes() + b"5099,48,1\r\n")
    with pytest.raises(ParseError, match="3 fields") as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == GROUP.read_bytes().count(b"\n") + 1


def test_non_integer_field_names_line(tmp_path: Path) -> None:
    """It raises ParseError naming the line and field of a non-numeric localId."""
    path = tmp_path / "group.csv"
    path.write_bytes(GROUP.read_bytes() + b"x1,48,1,0,0,1709546400,2,hi,2024-03-04 18:00:00,A,A,wxid_a\r\n")
    with pytest.raises(ParseError, match="localId is not an integer") as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == GROUP.read_bytes().count(b"\n") + 1


def test_unterminated_quote_is_a_parse_error(tmp_path: Path) -> None:
    """It reports a file cut inside a quoted field instead of silently swallowing the rest."""
    path = tmp_path / "group.csv"
    path.write_bytes(GROUP.read_bytes() + b'5099,48,1,0,0,1709546400,2,"cut off\r\nhere')
    with pytest.raises(ParseError, match="malformed CSV") as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == GROUP.read_bytes().count(b"\n") + 1


def test_wrong_header(tmp_path: Path) -> None:
    """It rejects a CSV whose header is not MemoTrace's."""
    path = tmp_path / "other.csv"
    path.write_text("id,MsgSvrID,type_name\r\n1,2,文本\r\n", encoding="utf-8")
    with pytest.raises(ParseError, match="localId,TalkerId") as info:
        read_memotrace_csv(path, UTC)
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"张三"邀请"李四"加入了群聊', SystemEvent("join", ("李四",), "invite", "张三")),
        ('"张三"邀请"李四、王五"加入了群聊', SystemEvent("join", ("李四", "王五"), "invite", "张三")),
        ('你邀请"李四"加入了群聊  ', SystemEvent("join", ("李四",), "invite", SELF_KEY)),
        (
            '"张三"邀请你加入了群聊，群聊参与人还有：A、B、C',
            SystemEvent("join", (SELF_KEY,), "invite", "张三"),
        ),
        ('"张三"邀请你和"李四"加入了群聊', SystemEvent("join", (SELF_KEY, "李四"), "invite", "张三")),
        ('" 李四"通过扫描"张三"分享的二维码加入群聊', SystemEvent("join", ("李四",), "qr", "张三")),
        ('"李四"通过扫描你分享的二维码加入群聊', SystemEvent("join", ("李四",), "qr", SELF_KEY)),
        ("你通过扫描二维码加入群聊，群聊参与人还有：A、B", SystemEvent("join", (SELF_KEY,), "qr")),
        ('你将"李四"移出了群聊', SystemEvent("remove", ("李四",))),
        ('你被"张三"移出群聊', SystemEvent("remove", (SELF_KEY,))),
        ('"张三"修改群名为“币圈月球”', SystemEvent("rename", actor="张三", title="币圈月球")),
        ('"张三" 撤回了一条消息', SystemEvent("recall", actor="张三")),
        ("你撤回了一条消息", SystemEvent("recall", actor=SELF_KEY)),
        ("X invited Y to the group chat", SystemEvent("join", ("Y",), "invite", "X")),
        ('"X" invited "Y" to the group chat', SystemEvent("join", ("Y",), "invite", "X")),
        ("X invited Y, Z to the group chat", SystemEvent("join", ("Y", "Z"), "invite", "X")),
        ("You invited Y to the group chat.", SystemEvent("join", ("Y",), "invite", SELF_KEY)),
        ("X invited you to a group chat with A, B", SystemEvent("join", (SELF_KEY,), "invite", "X")),
        ("X invited you and Y to the group chat", SystemEvent("join", (SELF_KEY, "Y"), "invite", "X")),
        ('"Y" joined the group chat via the QR Code shared by "X".', SystemEvent("join", ("Y",), "qr", "X")),
        ('"Y" joined group chat via the QR code you shared.', SystemEvent("join", ("Y",), "qr", SELF_KEY)),
        ('"Y" joined the group chat via your shared QR Code.', SystemEvent("join", ("Y",), "qr", SELF_KEY)),
        (
            "You've joined the group chat via QR Code. Group chat members: A",
            SystemEvent("join", (SELF_KEY,), "qr"),
        ),
        ('You removed "Y" from the group chat', SystemEvent("remove", ("Y",))),
        ('You were removed from the group chat by "X"', SystemEvent("remove", (SELF_KEY,))),
        ('"X" changed the group name to "Moon"', SystemEvent("rename", actor="X", title="Moon")),
        ('"X" recalled a message', SystemEvent("recall", actor="X")),
        ("You recalled a message", SystemEvent("recall", actor=SELF_KEY)),
        ('"X"与群里其他人都不是朋友关系，请注意隐私安全', SystemEvent("system")),
        ("你已添加了X，现在可以开始聊天了。", SystemEvent("system")),
    ],
)
def test_parse_system_text(text: str, expected: SystemEvent) -> None:
    """It decodes each documented Chinese and English system text into its event."""
    assert parse_system_text(text) == expected


def test_system_text_from_xml() -> None:
    """It renders revokemsg and sysmsgtemplate XML to the plain text the patterns read."""
    assert system_text("<revokemsg>你撤回了一条消息</revokemsg>") == "你撤回了一条消息"
    template = (
        '<sysmsg type="sysmsgtemplate"><sysmsgtemplate><content_template type="tmpl_type_profile">'
        '<plain><![CDATA[]]></plain><template><![CDATA["$adder$"通过扫描"$from$"分享的二维码加入群聊]]></template>'
        '<link_list><link name="adder" type="link_profile"><memberlist><member><username><![CDATA[wxid_b]]>'
        "</username><nickname><![CDATA[李四]]></nickname></member></memberlist></link>"
        '<link name="from" type="link_profile"><memberlist><member><username><![CDATA[wxid_a]]></username>'
        "<nickname><![CDATA[张三]]></nickname></member></memberlist></link></link_list></content_template>"
        "</sysmsgtemplate></sysmsg>"
    )
    assert system_text(template) == '"李四"通过扫描"张三"分享的二维码加入群聊'
    assert parse_system_text(system_text(template)) == SystemEvent("join", ("李四",), "qr", "张三")


def test_real_sample() -> None:
    """It reads the real MemoTrace CSV sample with one row per CSV record and a sticker as media."""
    if not SAMPLE.exists():
        pytest.skip("../shared/samples is absent")
    with SAMPLE.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    frame = read_memotrace_csv(SAMPLE, UTC)
    assert len(frame) == len(records)
    assert list(frame["message_id"]) == [r["localId"] for r in records]
    assert list(frame["author_key"]) == [r["Sender"] for r in records]
    assert (frame["media_type"] == "sticker").sum() == sum(r["Type"] == "47" for r in records)
    assert list(frame["source_record"]) == list(range(2, 2 + len(records)))
