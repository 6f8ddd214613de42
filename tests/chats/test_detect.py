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
        b'{"guild": {"id": "1", "name": "g"}, "channel": {"id": "2"}, "messages": []}',
        b"\xef\xbb\xbfid,MsgSvrID,kind,CreateTime\r\n",
        b"12/03/2024, 10:00 - Alice: gm\n",
        b"",
    ],
    ids=["discord-json", "other-csv", "whatsapp-txt", "empty"],
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
