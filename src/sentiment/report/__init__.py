"""Rendering of analysis results into HTML, Markdown and JSON reports."""

from sentiment.report.render import write_report

__all__ = ["write_report"]
