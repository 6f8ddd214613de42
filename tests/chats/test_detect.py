"""Tests for export format detection and the read_chat_export dispatcher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sentiment.chats import RAW_COLUMNS, detect_format, read_chat_export
from sentiment.errors import ConfigError, UnknownFormatError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("telegram_single_chat.json", "telegram_json"),
        ("telegram_full_account.json", "telegram_json"),
        ("memotrace_group.csv", "wechat_memotrace_csv"),
        ("discord_channel.json", "discord_json"),
        ("Virtuals Protocol - Community - general [1089000000000000777].csv", "discord_csv"),
        ("discord_old_dates.csv", "discord_csv"),
        ("whatsapp_android_24h.txt", "whatsapp_txt"),
        ("whatsapp_android_12h_us.txt", "whatsapp_txt"),
        ("whatsapp_ios_brackets.txt", "whatsapp_txt"),
        ("whatsapp_dotted.txt", "whatsapp_txt"),
        ("whatsapp_ambiguous_latam.txt", "whatsapp_txt"),
    ],
)
def test_detects_fixtures(name: str, expected: str) -> None:
    """It recognises each supported export."""
    assert detect_format(FIXTURES / name) == expected


def test_detects_by_content_not_name(tmp_path: Path) -> None:
    """It ignores misleading file names and sniffs the bytes."""
    csv_named_json = tmp_path / "export.json"
    shutil.copy(FIXTURES / "memotrace_group.csv", csv_named_json)
    json_named_csv = tmp_path / "chat.csv"
    shutil.copy(FIXTURES / "telegram_single_chat.json", json_named_csv)
    assert detect_format(csv_named_json) == "wechat_memotrace_csv"
    assert detect_format(json_named_csv) == "telegram_json"


def test_detects_chats_key_far_into_full_export(tmp_path: Path) -> None:
    """It finds the chats key of a full-account export after a contact list larger than the sniffed head."""
    full = json.loads((FIXTURES / "telegram_full_account.json").read_text(encoding="utf-8"))
    contacts = [
        {
            "first_name": f"Contact {i}",
            "last_name": "",
            "phone_number": "+1 555 0100",
            "date": "2023-01-01T00:00:00",
            "date_unixtime": "1672531200",
        }
        for i in range(3000)
    ]
    path = tmp_path / "result.json"
    path.write_text(
        json.dumps(
            {"about": full["about"], "contacts": {"about": "", "list": contacts}, "chats": full["chats"]},
            indent=1,
        ),
        encoding="utf-8",
    )
    assert path.stat().st_size > 1 << 17
    assert detect_format(path) == "telegram_json"


@pytest.mark.parametrize(
    "content",
    [
        b'{"guild": {"id": "1", "name": "g"}, "channel": {"id": "2"}}',
        b"\xef\xbb\xbfid,MsgSvrID,kind,CreateTime\r\n",
        b"Alice at 12/03/2024 10:00: gm\n",
        b"",
    ],
    ids=["json-without-messages", "other-csv", "plain-text", "empty"],
)
def test_unknown_format_lists_supported(tmp_path: Path, content: bytes) -> None:
    """It raises UnknownFormatError naming the file and listing the supported formats."""
    path = tmp_path / "export.json"
    path.write_bytes(content)
    with pytest.raises(UnknownFormatError) as info:
        detect_format(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "telegram_json" in message and "wechat_memotrace_csv" in message


def test_read_chat_export_auto_and_explicit() -> None:
    """It dispatches by detected format, by platform name or by format name to the same reader."""
    path = FIXTURES / "memotrace_group.csv"
    fmt, auto = read_chat_export(path)
    assert fmt == "wechat_memotrace_csv"
    assert tuple(auto.columns) == RAW_COLUMNS
    for platform in ("wechat", "wechat_memotrace_csv"):
        fmt2, frame = read_chat_export(path, platform=platform)
        assert fmt2 == "wechat_memotrace_csv"
        assert frame.equals(auto)


def test_read_chat_export_unknown_platform() -> None:
    """It rejects an unknown platform value with a ConfigError listing the choices."""
    with pytest.raises(ConfigError, match="auto, telegram, wechat"):
        read_chat_export(FIXTURES / "memotrace_group.csv", platform="signal")


def test_detects_new_formats_by_content_not_name(tmp_path: Path) -> None:
    """It recognises Discord and WhatsApp exports renamed to misleading names."""
    for name, expected in (("discord_channel.json", "discord_json"), ("whatsapp_ios_brackets.txt", "whatsapp_txt")):
        renamed = tmp_path / "export.csv"
        shutil.copy(FIXTURES / name, renamed)
        assert detect_format(renamed) == expected


def test_explicit_discord_platform_picks_json_or_csv() -> None:
    """It reads --platform discord as JSON or CSV from the content."""
    assert read_chat_export(FIXTURES / "discord_channel.json", platform="discord")[0] == "discord_json"
    assert read_chat_export(FIXTURES / "discord_old_dates.csv", platform="discord")[0] == "discord_csv"
    assert read_chat_export(FIXTURES / "whatsapp_dotted.txt", platform="whatsapp")[0] == "whatsapp_txt"
