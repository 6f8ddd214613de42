"""Tests for the pseudonymisation key and the raw-records-to-messages transform."""

from __future__ import annotations

import hashlib
import hmac
import stat
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from sentiment import schemas
from sentiment.chats import read_memotrace_csv, read_telegram_export
from sentiment.errors import ConfigError
from sentiment.lake import Lake
from sentiment.privacy import load_or_create_key, pseudonym, to_messages

FIXTURES = Path(__file__).parent / "fixtures" / "chats"
NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.concat(
        [
            read_telegram_export(FIXTURES / "telegram_single_chat.json", UTC),
            read_memotrace_csv(FIXTURES / "memotrace_group.csv", UTC),
        ],
        ignore_index=True,
    )


def test_key_created_once_with_mode_0600(tmp_path: Path) -> None:
    """It creates a 32-byte key readable only by the owner and returns the same key afterwards."""
    path = tmp_path / "state" / "pseudonym.key"
    first = load_or_create_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == first
    assert load_or_create_key(tmp_path / "other.key") != first
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]


def test_damaged_key_is_refused(tmp_path: Path) -> None:
    """It refuses a key file of the wrong length instead of silently replacing it."""
    path = tmp_path / "pseudonym.key"
    path.write_bytes(b"short")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_or_create_key(path)
    assert path.read_bytes() == b"short"


def test_pseudonym_definition() -> None:
    """It is the first 16 hex chars of HMAC-SHA256 over 'platform:raw', different per platform and key."""
    expected = hmac.new(KEY, b"telegram:user1001", hashlib.sha256).hexdigest()[:16]
    assert pseudonym(KEY, "telegram", "user1001") == expected
    assert pseudonym(KEY, "wechat", "user1001") != expected
    assert pseudonym(bytes(32), "telegram", "user1001") != expected


def test_messages_conform_to_schema(raw: pd.DataFrame) -> None:
    """It produces exactly the messages table's columns, accepted by schemas.conform."""
    messages = to_messages(raw, KEY, keep_names=False, ingested_at=NOW)
    assert list(messages.columns) == [c.name for c in schemas.TABLES["messages"]]
    table = schemas.conform(messages, "messages")
    assert table.num_rows == len(raw)
    assert set(messages["ingested_at"]) == {NOW}


def test_ids_are_pseudonymised_consistently(raw: pd.DataFrame) -> None:
    """It maps the same raw identity to the same id in author_id and inviter_id, and keeps nulls null."""
    messages = to_messages(raw, KEY, keep_names=False, ingested_at=NOW)
    moon = pseudonym(KEY, "telegram", "user1001")
    assert (messages.loc[raw["author_key"] == "user1001", "author_id"] == moon).all()
    assert (messages.loc[raw["inviter_key"] == "user1001", "inviter_id"] == moon).all()
    assert messages["author_id"].isna().equals(raw["author_key"].isna())
    again = to_messages(raw, KEY, keep_names=False, ingested_at=NOW)
    assert again["author_id"].equals(messages["author_id"])


def test_raw_names_absent_without_keep_names(raw: pd.DataFrame) -> None:
    """It leaves no raw sender name or key anywhere in the output unless keep_names is set."""
    messages = to_messages(raw, KEY, keep_names=False, ingested_at=NOW)
    identities = set(raw["author_name"].dropna()) | set(raw["author_key"].dropna()) | set(raw["inviter_key"].dropna())
    cells = [str(c) for c in messages.drop(columns=["ts", "ingested_at"]).to_numpy().ravel()]
    assert len(identities) > 20
    assert {ident for ident in identities for cell in cells if ident in cell} == set()
    assert messages["author_name"].isna().all()
    assert messages.loc[raw["kind"] == "join", "text"].isna().all()
    assert messages.loc[raw["kind"] == "message", "text"].notna().all()


def test_keep_names_keeps_names_and_event_texts(raw: pd.DataFrame) -> None:
    """It keeps display names and system texts when keep_names is set."""
    messages = to_messages(raw, KEY, keep_names=True, ingested_at=NOW)
    assert messages["author_name"].equals(raw["author_name"])
    assert messages["text"].equals(raw["text"])
    assert messages["author_id"].equals(to_messages(raw, KEY, keep_names=False, ingested_at=NOW)["author_id"])


def test_empty_frame(raw: pd.DataFrame) -> None:
    """It turns an empty raw frame into an empty, conforming messages frame."""
    messages = to_messages(raw.iloc[:0], KEY, keep_names=False, ingested_at=NOW)
    assert schemas.conform(messages, "messages").num_rows == 0


def test_private_chats_keep_no_name_anywhere(tmp_path: Path) -> None:
    """A one-to-one Telegram HTML chat and a two-person WhatsApp chat named after the other person: keyed p:
    chat ids, no chat name, no name in file names or paths; --keep-names keeps the name, never changes the id."""
    from sentiment.cli import run_cli

    fixtures = Path(__file__).resolve().parent / "fixtures" / "chats"
    whatsapp = tmp_path / "WhatsApp Chat with Henrietta Okonkwo-Lindqvist.txt"
    whatsapp.write_text(
        "12/03/2024, 09:15 - Henrietta Okonkwo-Lindqvist: did you sell?\n12/03/2024, 09:16 - Bartholomew: no\n",
        encoding="utf-8",
    )
    lake = tmp_path / "lake"
    args = ["--lake", str(lake), "ingest-chat", str(fixtures / "telegram_html_personal"), str(whatsapp)]
    assert run_cli([*args, "--tz", "UTC"]) == 0
    frame = Lake(lake).read("SELECT chat_id, chat_name, source_file FROM messages")
    assert frame["chat_id"].str.startswith("p:").all() and frame["chat_id"].nunique() == 2
    assert frame["chat_name"].isna().all()
    stored = b"".join(p.read_bytes() for p in lake.rglob("*.parquet")) + str(list(lake.rglob("*"))).encode()
    for name in (b"Henrietta", b"Okonkwo", b"Lindqvist", b"Bartholomew"):
        assert name not in stored
    assert all(name == "messages.html" or name.startswith("p:") for name in frame["source_file"])
    ids = set(frame["chat_id"])
    assert run_cli([*args, "--tz", "UTC", "--keep-names"]) == 0
    again = Lake(lake).read("SELECT chat_id, chat_name FROM messages")
    assert set(again["chat_id"]) == ids and len(again) == len(frame)  # same keys: nothing added
