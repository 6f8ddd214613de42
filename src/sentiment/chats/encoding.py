"""Choose the text encoding of an export: UTF-8 (BOM or not), else GB18030/GBK for files re-saved by Excel."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np

from sentiment.chats.records import decode_error
from sentiment.errors import EncodingError, ParseError

__all__ = ["GB18030", "UTF8", "CheckedUtf8Reader", "read_text", "sniff_encoding"]

UTF8 = "utf-8-sig"
GB18030 = "gb18030"  # a superset of GBK and GB2312, which is what Chinese Excel writes
_CHUNK = 1 << 20


def _valid(path: Path, encoding: str) -> int | None:
    """None if the whole file decodes in ``encoding``, else the byte offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return done + max(exc.start, 0)
            done += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return done
    return None


def sniff_encoding(path: Path, expected: str) -> str:
    """``utf-8-sig`` when the bytes are valid UTF-8, else ``gb18030`` when they decode as that, else an error.

    GB18030 is tried only when UTF-8 fails: almost any byte string decodes as GB18030, so it cannot go first.
    """
    path = Path(path)
    bad = _valid(path, UTF8)
    if bad is None:
        return UTF8
    if _valid(path, GB18030) is None:
        return GB18030
    data = path.read_bytes()
    raise decode_error(path, data, bad, expected)


def read_text(path: Path, expected: str) -> tuple[str, str]:
    """(the file's text with universal newlines, the encoding used)."""
    encoding = sniff_encoding(path, expected)
    with Path(path).open(encoding=encoding, newline=None) as fh:
        return fh.read(), encoding


class CheckedUtf8Reader:
    """A binary file wrapper for streaming parsers: skips a UTF-8 BOM, validates UTF-8 as it goes, counts bytes
    and newlines, and raises EncodingError (with the line) at the first invalid byte.

    With ``max_depth`` it also tracks JSON nesting (brackets outside strings) and raises ParseError beyond it:
    pathological nesting costs streaming JSON parsers memory quadratic in the depth.
    """

    def __init__(self, path: Path, expected: str, *, max_depth: int | None = None) -> None:
        self.path = Path(path)
        self.total = self.path.stat().st_size
        self._fh = self.path.open("rb")
        self._expected = expected
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.done = 0
        self.newlines = 0
        self._depth = None if max_depth is None else _JsonDepth(max_depth)
        head = self._fh.read(3)
        if head == b"\xef\xbb\xbf":
            self.done = 3
        else:
            self._fh.seek(0)

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size)
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self.newlines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
            raise self._error(self.done + max(exc.start, 0), line) from exc
        if self._depth is not None and not self._depth.ok(chunk):
            line = self.newlines + chunk.count(b"\n", 0, self._depth.offset) + 1
            reason = f"JSON nested deeper than {self._depth.limit} levels (corrupt export?)"
            raise ParseError(self.path, reason, line=line)
        self.done += len(chunk)
        self.newlines += chunk.count(b"\n")
        return chunk

    def _error(self, offset: int, line: int) -> EncodingError:
        with self.path.open("rb") as fh:
            start = fh.read(2)
        hint = ""
        if start in (b"\xff\xfe", b"\xfe\xff"):
            hint = "; the file starts with a UTF-16 byte-order mark — re-save it as UTF-8"
        elif _valid(self.path, GB18030) is None:
            hint = "; the bytes decode as GB18030/GBK — convert with `iconv -f GB18030 -t UTF-8`"
        return EncodingError(self.path, f"invalid {self._expected} at byte {offset}{hint}", line=line)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CheckedUtf8Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _JsonDepth:
    """Nesting depth of a JSON byte stream fed chunk by chunk, vectorised (strings and escapes respected)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = 0
        self.carry = b""  # an odd trailing backslash: it escapes the next chunk's first byte
        self.offset = 0  # where in the last chunk the limit was passed

    def ok(self, chunk: bytes) -> bool:
        data = self.carry + chunk
        trail = len(data) - len(data.rstrip(b"\\")) if data.endswith(b"\\") else 0
        self.carry = b"\\" if trail % 2 else b""
        if self.carry:
            data = data[:-1]
        if b"\\" in data:
            # Escaped backslashes, then escaped quotes, can go: what is left of the quotes delimit strings.
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        codes = np.frombuffer(data, dtype=np.uint8)
        folded = codes | 0x20  # [ -> {, ] -> }: one comparison per side
        opens = folded == 0x7B
        where = np.flatnonzero(opens | (folded == 0x7D))
        quotes = np.flatnonzero(codes == 0x22)
        outside = where[((np.searchsorted(quotes, where) + self.in_string) & 1) == 0]
        depth = self.depth + np.cumsum(opens[outside].astype(np.int8) * 2 - 1, dtype=np.int64)
        self.in_string = (len(quotes) + self.in_string) & 1
        if depth.size:
            if int(depth.max()) > self.limit:
                # Offsets shift by the removed escapes; the line is still right to within the string.
                self.offset = int(outside[int(np.argmax(depth > self.limit))])
                return False
            self.depth = int(depth[-1])
        return True
