"""The command's entry point: `score-text` on a big file starts its workers' fork server before the CLI loads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment.entry import BIG_INPUT_BYTES, starts_workers_at_once


@pytest.fixture()
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "lines.txt"
    lines = [f"gm fren {i} this dip is a gift 🚀" if i % 3 else f"要涨了 {i}" for i in range(BIG_INPUT_BYTES // 30)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size >= BIG_INPUT_BYTES
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["score-text"], True),
        (["score-text", "--workers", "2"], True),
        (["score-text", "--workers=4", "--scorer", "hybrid"], True),
        (["score-text", "--workers", "1"], False),
        (["score-text", "--workers=x"], False),
        (["score-text", "--scorer", "trained"], False),
        (["--lake", "x", "score-text"], False),  # options before the command: left to the CLI
        (["ingest-chat", "x.json"], False),
        ([], False),
    ],
)
def test_which_commands_start_workers_at_once(
    args: list[str], expected: bool, big_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with big_file.open("rb") as stdin:
        assert starts_workers_at_once(args, stdin) is expected


def test_small_files_pipes_and_one_core_do_not(big_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = tmp_path / "small.txt"
    small.write_text("gm\n" * 10, encoding="utf-8")
    with small.open("rb") as stdin:
        assert not starts_workers_at_once(["score-text"], stdin)
    assert not starts_workers_at_once(["score-text"], io.BytesIO(big_file.read_bytes()))  # no file descriptor
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    with big_file.open("rb") as stdin:
        assert not starts_workers_at_once(["score-text"], stdin)


def test_score_text_on_a_big_file_in_a_real_process(big_file: Path) -> None:
    """`python -m sentiment score-text < file`: the fork server started at once, two workers, one line out per line
    in, in order, each as the in-process scorer renders it."""
    from sentiment.scoring.extras import MessageFacts
    from sentiment.scoring.hybrid import HybridScorer
    from sentiment.scoring.stream import render_lines

    with big_file.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "sentiment", "score-text", "--workers", "2", "--stats"],
            stdin=stdin,
            capture_output=True,
            check=True,
        )
    assert "2 worker processes" in done.stderr.decode()
    lines = big_file.read_text(encoding="utf-8").splitlines()
    out = done.stdout.decode("utf-8").splitlines(keepends=True)
    assert len(out) == len(lines)
    sample = list(range(0, len(lines), 997))
    expected = render_lines(HybridScorer(), MessageFacts(), [lines[i] for i in sample])
    assert [out[i] for i in sample] == expected
    assert [json.loads(out[i])["text"] for i in sample] == [lines[i] for i in sample]
