"""The lake: Delta tables with idempotent appends, readable by DuckDB, pyarrow and pandas through deltalake."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

from sentiment.errors import LakeError, SchemaMismatchError
from sentiment.lake import Lake


def _prices(days: list[str], symbol: str = "VIRTUAL/USDT", close: float = 1.0) -> pd.DataFrame:
    n = len(days)
    return pd.DataFrame(
        {
            "exchange": ["gate"] * n,
            "symbol": [symbol] * n,
            "timeframe": ["1d"] * n,
            "ts": pd.to_datetime(days, utc=True),
            "open": [close] * n,
            "high": [close] * n,
            "low": [close] * n,
            "close": [close] * n,
            "volume": [10.0] * n,
            "fetched_at": [pd.Timestamp("2024-06-01", tz="UTC")] * n,
        }
    )


def _messages(ids: list[str], chat: str = "c1", month: str = "2024-01") -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "platform": ["telegram"] * n,
            "chat_id": [chat] * n,
            "chat_name": ["VIRTUAL"] * n,
            "message_id": ids,
            "ts": pd.to_datetime([f"{month}-0{1 + i % 9}T10:00:00" for i in range(n)], utc=True),
            "author_id": ["a" * 16] * n,
            "author_name": [None] * n,
            "kind": ["message"] * n,
            "join_method": [None] * n,
            "inviter_id": [None] * n,
            "media_type": [None] * n,
            "text": [f"text {i}" for i in ids],
            "reply_to": [None] * n,
            "is_forward": [False] * n,
            "reactions": [None] * n,
            "edited": [False] * n,
            "source_file": ["result.json"] * n,
            "source_record": list(range(1, n + 1)),
            "ingested_at": [pd.Timestamp("2024-06-01", tz="UTC")] * n,
        }
    )


def test_append_is_idempotent(tmp_path: Path) -> None:
    """Appending the same and an overlapping batch again stores each key once."""
    lake = Lake(tmp_path)
    assert lake.append("prices", _prices(["2024-01-01", "2024-01-02"])) == 2
    assert lake.append("prices", _prices(["2024-01-01", "2024-01-02"])) == 0
    assert lake.append("prices", _prices(["2024-01-02", "2024-01-03"])) == 1
    assert lake.count("prices") == 3


def test_duplicate_keys_within_one_batch_are_written_once(tmp_path: Path) -> None:
    """A batch that repeats a key keeps its first row."""
    lake = Lake(tmp_path)
    batch = pd.concat([_prices(["2024-01-01"], close=1.0), _prices(["2024-01-01"], close=2.0)])
    assert lake.append("prices", batch) == 1
    assert lake.read("SELECT close FROM prices")["close"].tolist() == [1.0]


def test_batch_dedupe_keeps_every_distinct_key_once(tmp_path: Path) -> None:
    """A batch with a repeated key in its middle keeps each distinct key exactly once, in batch order."""
    lake = Lake(tmp_path)
    batch = _prices(["2024-01-03", "2024-01-04", "2024-01-04", "2024-01-05"])
    batch["close"] = [3.0, 4.0, 4.5, 5.0]
    assert lake.append("prices", batch) == 3
    got = lake.read("SELECT close FROM prices ORDER BY ts")["close"].tolist()
    assert got == [3.0, 4.0, 5.0]


def test_messages_dedupe_across_months_of_a_chat(tmp_path: Path) -> None:
    """A message id already stored in another month partition of the same chat is not written again."""
    lake = Lake(tmp_path)
    lake.append("messages", _messages(["1", "2"], month="2024-01"))
    assert lake.append("messages", _messages(["2", "3"], month="2024-02")) == 1
    assert lake.append("messages", _messages(["2"], chat="c2")) == 1  # same id, other chat: a new message
    assert lake.count("messages") == 4


def test_delta_tables_round_trip_in_every_reader(tmp_path: Path) -> None:
    """DuckDB (the lake's views), pyarrow and pandas (through deltalake) read the same rows, symbol intact."""
    from deltalake import DeltaTable

    lake = Lake(tmp_path)
    lake.append("prices", _prices(["2024-01-01", "2024-01-02"]))
    lake.append("prices", _prices(["2024-01-01"], symbol="BTC/USDT"))
    assert (tmp_path / "prices" / "_delta_log").is_dir()
    duck = lake.read("SELECT symbol, count(*) AS n FROM prices GROUP BY 1 ORDER BY 1")
    assert duck.to_dict("records") == [{"symbol": "BTC/USDT", "n": 1}, {"symbol": "VIRTUAL/USDT", "n": 2}]
    arrow = DeltaTable(tmp_path / "prices").to_pyarrow_dataset().to_table()
    assert sorted(set(arrow.column("symbol").to_pylist())) == ["BTC/USDT", "VIRTUAL/USDT"]
    assert len(DeltaTable(tmp_path / "prices").to_pandas()) == 3
    assert lake.versions(["prices", "weekly"]) == {"prices": 2, "weekly": None}


def test_schema_version_and_descriptions_are_in_the_table(tmp_path: Path) -> None:
    """The Delta metadata names the table and schema version; columns carry their descriptions; commits the
    schema version they were written with."""
    lake = Lake(tmp_path)
    lake.append("prices", _prices(["2024-01-01"]))
    dt = lake.snapshot("prices")
    assert dt is not None
    assert dt.metadata().name == "prices" and "schema version 1" in dt.metadata().description
    assert dt.metadata().partition_columns == ["exchange", "symbol", "timeframe"]
    close = next(f for f in dt.schema().fields if f.name == "close")
    assert close.metadata["description"] == "Last trade price."
    assert lake.history("prices")[0]["sentiment.schema_version"] == "1"


def test_bad_frame_writes_nothing(tmp_path: Path) -> None:
    """A frame that does not match the declared schema is refused before any file is written."""
    lake = Lake(tmp_path)
    bad = _prices(["2024-01-01"]).drop(columns=["close"])
    with pytest.raises(SchemaMismatchError, match="close"):
        lake.append("prices", bad)
    nulls = _prices(["2024-01-01"])
    nulls["symbol"] = None
    with pytest.raises(SchemaMismatchError, match="symbol"):
        lake.append("prices", nulls)
    assert lake.files("prices") == []


def test_empty_lake_has_typed_empty_views(tmp_path: Path) -> None:
    """Views exist (with their columns) before anything was written."""
    lake = Lake(tmp_path)
    frame = lake.read("SELECT * FROM messages")
    assert frame.empty and {"author_id", "compound", "label", "lang"} <= set(frame.columns)


def _weekly(weeks: list[str], value: float) -> pd.DataFrame:
    from sentiment.schemas import TABLES

    frame = pd.DataFrame({c.name: [None] * len(weeks) for c in TABLES["weekly"]})
    frame["symbol"] = "VIRTUAL/USDT"
    frame["scope"] = "all"
    frame["week_start"] = pd.to_datetime(weeks, utc=True)
    frame["close"] = value
    return frame


def test_replace_swaps_a_derived_partition(tmp_path: Path) -> None:
    """replace() swaps the whole symbol partition in one file; append() is refused on a derived table."""
    lake = Lake(tmp_path)
    lake.replace("weekly", _weekly(["2024-01-01", "2024-01-08"], 1.0))
    lake.replace("weekly", _weekly(["2024-01-08", "2024-01-15", "2024-01-22"], 2.0))
    assert lake.read("SELECT close FROM weekly")["close"].tolist() == [2.0, 2.0, 2.0]
    assert len(lake.files("weekly")) == 1
    with pytest.raises(LakeError, match="derived"):
        lake.append("weekly", _weekly(["2024-01-01"], 3.0))


def _append_in_process(root: str, start: int) -> None:
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range("2024-01-01", periods=40)][start : start + 30]
    Lake(Path(root)).append("prices", _prices(days))


def test_concurrent_writers_never_double_rows(tmp_path: Path) -> None:
    """Two processes appending overlapping candles at once leave each candle exactly once."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_in_process, args=(str(tmp_path), s)) for s in (0, 10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert Lake(tmp_path).count("prices") == 40


def test_compact_merges_small_files_without_changing_results(tmp_path: Path) -> None:
    """After compaction each partition holds one file and every query answers the same."""
    lake = Lake(tmp_path)
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range("2024-01-01", periods=40)]
    for start in range(0, 40, 10):
        lake.append("prices", _prices(days[start : start + 10]))
    lake.append("messages", _messages(["1", "2"]))
    lake.append("messages", _messages(["3"]))
    sql = "SELECT symbol, count(*) AS n, sum(close) AS c, min(ts) AS a, max(ts) AS b FROM prices GROUP BY ALL"
    before, messages = lake.read(sql), lake.read("SELECT * FROM messages ORDER BY message_id")
    result = lake.compact()
    expected = {"messages": (2, 1), "prices": (4, 1), "weekly": (0, 0)}
    assert {t: result[t] for t in expected} == expected
    pd.testing.assert_frame_equal(lake.read(sql), before)
    pd.testing.assert_frame_equal(lake.read("SELECT * FROM messages ORDER BY message_id"), messages)
    assert lake.append("prices", _prices(["2024-01-05"])) == 0
    assert lake.count("prices", as_of=lake.version("prices") - 1) == 40  # the version before compaction reads


def test_a_table_declared_only_in_schemas_gets_a_view_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new table in schemas.TABLES (no partitions declared here) is stored unpartitioned and queryable."""
    import pyarrow as pa

    from sentiment import schemas

    cols = (schemas.Column("id", pa.string(), "Row id.", False), schemas.Column("n", pa.int64(), "A number."))
    monkeypatch.setitem(schemas.TABLES, "extra", cols)
    monkeypatch.setitem(schemas.KEYS, "extra", ("id",))
    lake = Lake(tmp_path)
    assert lake.read("SELECT * FROM extra").columns.tolist() == ["id", "n"]
    assert lake.append("extra", pd.DataFrame({"id": ["a", "b"], "n": [1, 2]})) == 2
    assert lake.append("extra", pd.DataFrame({"id": ["b", "c"], "n": [2, 3]})) == 1
    assert lake.read("SELECT sum(n) AS s FROM extra")["s"].iloc[0] == 6


def test_a_table_written_before_a_column_was_declared_reads_nulls_then_gains_it(tmp_path: Path) -> None:
    """A column added to the schema after the table was written shows as NULL for old rows, and the next write
    adds it to the Delta schema (schema merge) instead of failing."""
    from deltalake import write_deltalake

    from sentiment import schemas

    old = schemas.conform(_prices(["2024-01-01"]), "prices").drop_columns(["fetched_at"])
    write_deltalake(tmp_path / "prices", old, partition_by=list(schemas.PARTITIONS["prices"]))
    lake = Lake(tmp_path)
    assert lake.read("SELECT count(fetched_at) AS n FROM prices")["n"].tolist() == [0]
    assert lake.append("prices", _prices(["2024-01-01", "2024-01-02"])) == 1
    frame = lake.read("SELECT ts, fetched_at FROM prices ORDER BY ts")
    assert len(frame) == 2
    assert pd.isna(frame["fetched_at"].iloc[0]) and not pd.isna(frame["fetched_at"].iloc[1])


def test_a_query_builds_only_the_views_it_names(tmp_path: Path) -> None:
    """A damaged file in one table fails the queries that read that table, with its name, and no other query."""
    lake = Lake(tmp_path)
    lake.append("prices", _prices(["2024-01-01", "2024-01-02"]))
    lake.append("messages", _messages(["1", "2"]))
    damaged = lake.files("messages")[0]
    Path(damaged).write_bytes(b"not parquet")
    assert int(lake.read("SELECT count(*) AS n FROM prices")["n"].iloc[0]) == 2
    with pytest.raises(LakeError, match="messages"):
        lake.read("SELECT count(*) FROM Messages")
    with pytest.raises(LakeError, match="messages"):
        lake.read("SELECT count(*) FROM messages_raw")
