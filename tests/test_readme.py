"""README.md stays true: its data dictionary is the one generated from the schema declarations."""

from __future__ import annotations

from pathlib import Path

from sentiment.schemas import data_dictionary_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_embeds_the_generated_data_dictionary() -> None:
    """The README's data dictionary is exactly schemas.data_dictionary_markdown() (one source of truth)."""
    assert data_dictionary_markdown().rstrip() in README.read_text(encoding="utf-8")


def test_readme_names_every_cli_command() -> None:
    """Every command of the CLI is documented in the README."""
    from sentiment.cli import app

    text = README.read_text(encoding="utf-8")
    names = [c.name for c in app.registered_commands]
    assert names and all(f"sentiment {name}" in text for name in names)
