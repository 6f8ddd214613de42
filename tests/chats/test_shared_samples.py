"""Every real export in ../shared/samples/chat ingests with counts derived without the readers, re-ingests add
nothing, and no raw author, chat or inviter name or id (>= 4 characters) is stored anywhere in the lake."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps.ingest import ingest_chats
from sentiment.steps.score import score_new_messages

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "chat"
NOW = pd.Timestamp("2026-01-05", tz="UTC")
# A WhatsApp header: a date, a time, then " - " (Android) or "] " (iOS); loose on purpose (not the reader's).
WA_HEADER = re.compile(r"^\[?\d{1,4}[./-]\d{1,2}[./-]\d{2,4},? \d{1,2}[:.]\d{2}[^-\]]*?(?: - |\] |: )")
WA_AUTHOR = re.compile(r"^\[?[^\]-]*?(?: - |\] )([^:]+): ")
HTML_NORMAL = re.compile(r'class="message default clearfix(?: joined)?" id="message\d+"')
HTML_SERVICE = re.compile(r'class="message service" id="message(\d+)">\s*<div class="body details">\s*(.*?)\s*</div>')
HTML_FROM = re.compile(r'<div class="from_name">\s*(.*?)\s*</div>', re.DOTALL)


def _exports(tmp: Path) -> list[Path]:
    """The sample exports, copied; the WhatsApp parser's test file becomes the one-line exports its strings hold."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples not present")
    out = []
    for sample in sorted(SAMPLES.rglob("*")):
        if sample.is_dir() and sample.parent.name == "telegram_html":
            out.append(Path(shutil.copytree(sample, tmp / sample.name)))
        elif sample.is_file() and sample.name.endswith(".ts.txt"):
            # Each test string is a one-message chat in its own header style (the parser's tests read them apart).
            strings = re.findall(r"'((?:[^'\\]|\\.)*)'", sample.read_text("utf-8"))
            for n, line in enumerate(dict.fromkeys(s for s in strings if WA_HEADER.match(s)), start=1):
                target = tmp / f"{sample.name.removesuffix('.ts.txt')}_string{n:02d}.txt"
                target.write_text(line.replace("\\n", "\n") + "\n", encoding="utf-8")
                out.append(target)
        elif sample.is_file() and "telegram_html" not in sample.relative_to(SAMPLES).parts:
            out.append(Path(shutil.copy(sample, tmp / sample.name)))
    return out


def _telegram_rows(chat: dict[str, Any]) -> int:
    rows = 0
    for msg in chat.get("messages") or []:
        if msg.get("type") == "service" and msg.get("action") in ("invite_members", "remove_members"):
            rows += max(1, len(msg.get("members") or []))
        else:
            rows += 1
    return rows


def _telegram_chats(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "messages" in root:
        yield root
    for section in ("chats", "left_chats"):
        yield from (root.get(section) or {}).get("list") or []


def expected_rows(export: Path) -> int:
    """Rows the export should add, counted from its raw text/JSON/CSV with no project code."""
    if export.is_dir():  # Telegram HTML: normal blocks, plus one row per service action (per invited member)
        html = "".join(p.read_text("utf-8") for p in export.glob("messages*.html"))
        rows = len(HTML_NORMAL.findall(html))
        for _, text in HTML_SERVICE.findall(html):
            invited = re.match(r"(.+?) invited (.+)$", text)
            if invited and invited[2] != invited[1] and " and " in invited[2]:
                rows += invited[2].rpartition(" and ")[0].count(", ") + 2
            else:
                rows += 1
        return rows
    text = export.read_text("utf-8-sig")
    if export.suffix == ".json":
        root = json.loads(text)
        if "guild" in root:  # DiscordChatExporter: one row per distinct message id
            return len({m["id"] for m in root["messages"]})
        return sum(_telegram_rows(chat) for chat in _telegram_chats(root))
    if export.suffix == ".csv":
        return len(list(csv.DictReader(text.splitlines())))
    return sum(1 for line in text.splitlines() if WA_HEADER.match(line))


def raw_identities(export: Path) -> set[str]:
    """Every author, chat (of one-to-one chats), inviter or member name/id the raw export holds, >= 4 chars."""
    found: set[str] = set()
    if export.is_dir():
        html = unescape("".join(p.read_text("utf-8") for p in export.glob("messages*.html")))
        senders = {re.sub(r"\s+via @\w+$", "", s.split("<")[0].strip()) for s in HTML_FROM.findall(html)}
        found |= senders
        events = [t for i, t in HTML_SERVICE.findall(html)]
        for text in events:
            m = re.match(r"(.+?) (?:invited|removed|joined group by link from) (.+)$", text)
            if m:
                found |= {m[1], *re.split(r", | and ", m[2]), m[2]}
            m = re.match(r"(.+?) (?:pinned|converted|changed|created) ", text)
            if m:
                found.add(m[1])
        if not events and len(senders) < 3:  # a one-to-one chat: its title names the other party
            found.add(re.search(r'<div class="text bold">\s*(.*?)\s*</div>', html, re.DOTALL)[1])
    elif export.suffix == ".json":
        root = json.loads(export.read_text("utf-8"))

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key in ("from", "from_id", "actor", "actor_id", "inviter", "author", "forwarded_from"):
                    if isinstance(node.get(key), str | int):
                        found.add(str(node[key]))
                for key in ("name", "nickname", "id") if "discriminator" in node else ():
                    found.add(str(node.get(key)))  # a Discord user object
                found.update(str(m) for m in node.get("members") or [] if m)
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(root)
        for chat in _telegram_chats(root):
            if chat.get("type") in ("personal_chat", "bot_chat", "saved_messages"):
                found |= {str(chat.get("name")), str(chat.get("id"))}
            else:  # a group acting in its own service messages is its title, which may stay
                found.discard(str(chat.get("name")))
    elif export.suffix == ".csv":
        for rec in csv.DictReader(export.read_text("utf-8-sig").splitlines()):
            for key in ("talker", "Remark", "NickName", "Sender"):
                found.add(rec.get(key) or "")
            if not (rec.get("room_name") or "@chatroom").endswith("@chatroom"):
                found.add(rec["room_name"])
    else:
        found |= {m[1] for line in export.read_text("utf-8").splitlines() if (m := WA_AUTHOR.match(line))}
    return {f.strip() for f in found if len(f.strip()) >= 4 and f.strip() not in ("None", "Deleted Account")}


def _stored_strings(lake: Path) -> Iterator[tuple[str, str]]:
    """(where, string) for everything the lake stores but message text: paths, metadata, column values."""
    for path in lake.rglob("*"):
        rel = str(path.relative_to(lake))
        yield rel, rel
        if path.suffix == ".parquet":
            meta = pq.read_metadata(path).metadata or {}
            yield rel + " metadata", " ".join(f"{k!r}{v!r}" for k, v in meta.items())
            table = pq.read_table(path)
            for name in table.column_names:
                if name in ("text", "raw"):
                    continue
                for value in table.column(name).to_pylist():
                    for item in value if isinstance(value, list) else [value]:
                        if isinstance(item, str):
                            yield f"{rel}:{name}", item
        elif path.suffix in (".json", ".crc", ".checkpoint") and path.is_file():
            for line in path.read_text("utf-8", errors="replace").splitlines():
                yield rel, _without_text_stats(line)


def _without_text_stats(line: str) -> str:
    """A table-log line with statistics of the message text column removed (text may name people)."""
    try:
        action = json.loads(line)
    except json.JSONDecodeError:
        return line
    for body in action.values() if isinstance(action, dict) else []:
        if isinstance(body, dict) and isinstance(body.get("stats"), str):
            stats = json.loads(body["stats"])
            for part in ("minValues", "maxValues", "nullCount"):
                for col in ("text", "raw"):
                    (stats.get(part) or {}).pop(col, None)
            body["stats"] = json.dumps(stats)
    return json.dumps(action, ensure_ascii=False)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, int, int]]]:
    tmp = tmp_path_factory.mktemp("samples")
    (tmp / "exports").mkdir()
    exports = _exports(tmp / "exports")
    settings = load_settings(lake=tmp / "lake")
    lake = Lake(settings.lake)
    added = []
    for export in exports:  # one at a time, so each export's new rows are known
        before = lake.count("messages") if (tmp / "lake" / "messages").exists() else 0
        ingest_chats(settings, [export], now=NOW)
        added.append((export, lake.count("messages") - before, expected_rows(export)))
    score_new_messages(settings, now=NOW)
    return tmp / "lake", added


def test_every_sample_ingests_with_independent_counts(ingested: tuple[Path, list[tuple[Path, int, int]]]) -> None:
    """Each export adds exactly the rows counted from its raw text, and there are exports of every platform."""
    _, added = ingested
    assert len(added) >= 12
    assert {(export.name, rows) for export, rows, _ in added} == {(export.name, n) for export, _, n in added}
    assert all(rows > 0 for _, rows, _ in added)


def test_reingest_adds_nothing(ingested: tuple[Path, list[tuple[Path, int, int]]]) -> None:
    lake, added = ingested
    settings = load_settings(lake=lake)
    summary = ingest_chats(settings, [export for export, _, _ in added], now=NOW + pd.Timedelta(days=1))
    assert summary.rows_read >= sum(n for _, n, _ in added)
    assert summary.rows_written == 0


def test_no_raw_identity_anywhere_in_the_lake(ingested: tuple[Path, list[tuple[Path, int, int]]]) -> None:
    """No raw name or id of an author, inviter, member or one-to-one chat in paths, metadata or non-text values."""
    lake, added = ingested
    names: set[str] = set().union(*(raw_identities(export) for export, _, _ in added))
    assert len(names) > 50  # the scan looks for something
    leaks = []
    for where, stored in _stored_strings(lake):
        for name in names:
            if (stored == name) if name.isdigit() else (name in stored):
                leaks.append((name, where))
    assert sorted(set(leaks)) == []
