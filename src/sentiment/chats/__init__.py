"""Chat-export readers: each turns one export file into the raw chat-record frame (RAW_COLUMNS)."""

from sentiment.chats.detect import FORMATS, detect_format, read_chat_export
from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.telegram import read_telegram_export
from sentiment.chats.wechat import read_memotrace_csv

__all__ = [
    "FORMATS",
    "RAW_COLUMNS",
    "detect_format",
    "read_chat_export",
    "read_memotrace_csv",
    "read_telegram_export",
]
