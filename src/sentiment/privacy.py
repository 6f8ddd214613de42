"""Pseudonymise raw chat records into the lake's messages table with a keyed HMAC held in a local key file."""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment import schemas
from sentiment.chats.records import RAW_COLUMNS
from sentiment.errors import ConfigError, SchemaMismatchError

__all__ = [
    "KEY_BYTES",
    "load_or_create_key",
    "private_chat_id",
    "private_file_name",
    "pseudonym",
    "redact_messages",
    "redact_text",
    "to_messages",
]

KEY_BYTES = 32
# Texts of these kinds are kept without --keep-names; event texts name people ("X" invited "Y" ...).
_TEXT_KINDS = ("message", "media", "rename")


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte pseudonymisation key at ``path``, created (mode 0600) on first use and never replaced."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
            # link() publishes the complete file atomically and fails if a concurrent run got there first.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"{path}: pseudonymisation key must be {KEY_BYTES} bytes, found {len(key)}; "
            "restore the original key file (a new key would change every author_id)"
        )
    return key


def pseudonym(key: bytes, platform: str, raw: str) -> str:
    """The stable pseudonym of identity ``raw`` on ``platform``: HMAC-SHA256, hex, first 16 characters."""
    return hmac.digest(key, f"{platform}:{raw}".encode(), "sha256").hex()[:16]


# Pseudonyms already computed in this process, per (key, platform): a big export's batches repeat the same few
# thousand senders.
_MEMO: dict[tuple[bytes, str], dict[str, str]] = {}
_MEMO_MAX = 100_000


def _memo_pseudonyms(key: bytes, platform: str, raws: list[str]) -> list[str]:
    memo = _MEMO.setdefault((key, platform), {})
    if len(memo) + len(raws) > _MEMO_MAX:
        memo.clear()
    get = memo.get
    out = []
    for raw in raws:
        found = get(raw)
        if found is None:
            found = memo[raw] = pseudonym(key, platform, raw)
        out.append(found)
    return out


def _pseudonymise(key: bytes, platform: pd.Series, raw: pd.Series) -> pd.Series:
    """Each identity's pseudonym (null stays null), as a string column."""
    # Hash each distinct (platform, identity) once: chats repeat the same few thousand senders.
    hashed: list[str | None] = []
    codes = np.full(len(raw), -1, dtype=np.intp)
    names = pd.unique(platform)
    for name in names:
        rows = slice(None) if len(names) == 1 else np.flatnonzero((platform == name).to_numpy(dtype=bool))
        found, uniques = pd.factorize(raw.iloc[rows], use_na_sentinel=True)
        found[found >= 0] += len(hashed)
        codes[rows] = found
        hashed.extend(_memo_pseudonyms(key, str(name), [str(u) for u in uniques.tolist()]))
    hashed.append(None)  # code -1 (a null identity) takes the trailing null
    return pd.Series(pd.array(hashed, dtype="str").take(codes), index=raw.index)


def to_messages(raw: pd.DataFrame, key: bytes, *, keep_names: bool, ingested_at: pd.Timestamp) -> pd.DataFrame:
    """The messages frame of ``raw``: ids pseudonymised; names and event texts kept only with keep_names."""
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise SchemaMismatchError("raw chat records", f"columns missing {missing}")
    out = raw.loc[:, list(RAW_COLUMNS)].copy()
    out["author_id"] = _pseudonymise(key, out["platform"], out["author_key"])
    out["inviter_id"] = _pseudonymise(key, out["platform"], out["inviter_key"])
    private = out["chat_private"].fillna(False).astype(bool)
    if private.any():
        _pseudonymise_chats(out, private, key, keep_names=keep_names)
    if not keep_names:
        out["author_name"] = None
        out["text"] = out["text"].where(out["kind"].isin(_TEXT_KINDS), None)
    stamp = pd.Timestamp(ingested_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    out["ingested_at"] = pd.Series(stamp, index=out.index, dtype="datetime64[us, UTC]")
    names = [c.name for c in schemas.TABLES["messages"]]
    return out[names]


# Export file names that never name anyone (kept as they are for private chats too).
_NEUTRAL_FILE = re.compile(r"^(?:result\.json|messages\d*\.html?)$", re.IGNORECASE)


def private_chat_id(key: bytes, platform: str, raw_chat_id: str) -> str:
    """The keyed pseudonym stored as ``chat_id`` of a one-to-one (or person-named) chat: ``p:`` + 16 hex."""
    return "p:" + pseudonym(key, platform, f"chat:{raw_chat_id}")


def _pseudonymise_chats(out: pd.DataFrame, private: pd.Series, key: bytes, *, keep_names: bool) -> None:
    """Replace, in place, the id of private chats by a keyed pseudonym; without keep_names also drop their name
    and any export file name that could hold it (WhatsApp's "WhatsApp Chat with <name>.txt", Discord DM files).

    The id is pseudonymised whatever keep_names says, so both modes key the same rows the same way."""
    rows = out.loc[private, ["platform", "chat_id", "source_file"]]
    ids = {
        (p, c): private_chat_id(key, p, str(c))
        for p, c in rows[["platform", "chat_id"]].drop_duplicates().itertuples(index=False)
    }
    pseudonyms = [ids[(p, c)] for p, c in zip(rows["platform"], rows["chat_id"], strict=True)]
    out.loc[private, "chat_id"] = pseudonyms
    if keep_names:
        return
    out.loc[private, "chat_name"] = None
    files = [
        name if isinstance(name, str) and _NEUTRAL_FILE.match(name) else f"{chat}{_suffix(name)}"
        for name, chat in zip(rows["source_file"], pseudonyms, strict=True)
    ]
    out.loc[private, "source_file"] = files


def _suffix(name: object) -> str:
    return Path(name).suffix if isinstance(name, str) else ""


def private_file_name(key: bytes, platform: str, raw_chat_id: str, name: str) -> str:
    """What ``source_file`` holds for a private chat's export file (as in the messages table)."""
    return name if _NEUTRAL_FILE.match(name) else private_chat_id(key, platform, raw_chat_id) + _suffix(name)


# ---- --redact: mask contact details and wallet addresses in message text ----------------------------------------
_B58 = "1-9A-HJ-NP-Za-km-z"  # base58: no 0, O, I, l


def _looks_random(token: str) -> bool:
    # Real base58 addresses mix digits, upper and lower case; ordinary words and numbers do not.
    return any(c.isdigit() for c in token) and any(c.isupper() for c in token) and any(c.islower() for c in token)


def _enough_digits(token: str) -> bool:
    return sum(c.isdigit() for c in token) >= 8


# (mask, pattern, extra check on the match or None), applied in order: e-mails first (they hold dots and digits).
_REDACTIONS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("[email]", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), None),
    ("[wallet]", re.compile(r"\b0x[0-9a-fA-F]{40}\b"), None),  # EVM
    ("[wallet]", re.compile(r"\b(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}\b"), None),  # BTC bech32/bech32m
    # BTC legacy (1.../3..., 26-35 chars) and Solana (32-44) are base58 runs; the check keeps words out.
    ("[wallet]", re.compile(rf"(?<![{_B58}])[{_B58}]{{26,44}}(?![{_B58}])"), _looks_random),
    # Phones: +country code then digit groups, a 3-3-4 number with separators, or a Chinese mobile number.
    (
        "[phone]",
        re.compile(
            r"(?<![\w.,+-])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"
            r"|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}"
            r"|1[3-9]\d{9})(?![\w.,-]?\d)"
        ),
        _enough_digits,
    ),
)


def redact_text(text: str) -> str:
    """``text`` with phone numbers, e-mail addresses and wallet addresses (EVM, BTC, Solana) masked."""
    for mask, pattern, check in _REDACTIONS:
        if check is None:
            text = pattern.sub(mask, text)
        else:
            text = pattern.sub(lambda m, k=mask, c=check: k if c(m.group(0)) else m.group(0), text)
    return text


def redact_messages(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with :func:`redact_text` applied to every non-null ``text``."""
    out = raw.copy()
    texts = out["text"]
    mask = texts.notna()
    out.loc[mask, "text"] = texts[mask].map(redact_text)
    return out
