"""CSVs in the tutorial's format (a label column named ``Result`` or ``label``, and 784 pixels; or 785 numbers
with the label first): read from a file or from bytes (an upload), validated cell by cell, and written.

A bad file raises :class:`~digitcnn.errors.DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import itertools
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from digitcnn import config, files
from digitcnn.data.dataset import IMAGE_SIDE, PIXEL_COUNT, Dataset
from digitcnn.errors import DataError

CSV_COLUMN_COUNT = PIXEL_COUNT + 1
LABEL_COLUMN_NAMES = ("result", "label")
CSV_LABEL_HEADER = "Result"

# CSVs are read in blocks of whole lines, each checked and turned into uint8 before the next is read: memory stays
# a small multiple of the data whatever the file holds. No row of 785 numbers comes near a mebibyte; longer lines
# are refused rather than buffered.
_CSV_BLOCK_BYTES = 1 << 20
_CSV_MAX_LINE_BYTES = 1 << 20
_INK_BYTES = np.ones(256, dtype=bool)
_INK_BYTES[list(b" \t\n\r\x0b\x0c")] = False  # what bytes.isspace() calls blank: a line of only these is skipped
_LINE_END = re.compile(rb"\r\n?|\n")
_QUOTED_CELL = re.compile(rb'(?<![^,\r\n])[ \t]*"([^",\r\n]*)"[ \t]*(?![^,\r\n])')  # "12" as a whole cell is 12
_BOOLEAN_CELL = re.compile(rb"(?<![^,\r\n])[ \t]*(?:[Tt]rue|TRUE|[Ff]alse|FALSE)[ \t]*(?![^,\r\n])")


def load_csv(path: str | os.PathLike, source: str | None = None) -> Dataset:
    """A CSV in the tutorial's format, validated cell by cell.

    Either a header row with a label column named ``Result`` or ``label`` (any case, any
    position, quoted or not) and 784 pixel columns, or no header and 785 columns with the label
    first. Pixels are whole numbers 0–255, labels whole numbers 0–9; blank lines are skipped.
    Any problem raises :class:`DataError` naming the file, the line and the column.

    The file is read in blocks of about a mebibyte, each checked and turned into uint8 before the
    next is read: peak memory is a small multiple of the data, whatever the file holds (100,000
    blank lines cost nothing). Files over ``$DIGITCNN_MAX_CSV_MB`` are refused before reading, and
    the bytes read are counted against it too (a growing file, or one in /proc, claims less than it holds).
    Only a regular file is read: a named pipe is refused, not waited on (:func:`digitcnn.files.open_regular`).
    """
    path = Path(path)
    name = source or path.name
    try:
        with files.open_regular(path) as stream:
            _check_csv_size(os.fstat(stream.fileno()).st_size, name)
            return _read_csv(stream, name)
    except OSError as error:
        raise DataError(f"{name}: cannot be read ({files.reason(error)})") from None


def load_csv_bytes(content: bytes, name: str) -> Dataset:
    """A CSV given as bytes (an upload, say) named ``name`` in messages; see :func:`load_csv`.
    Read in place, block by block: no second copy of the whole upload is made."""
    _check_csv_size(len(content), name)
    return _read_csv(io.BytesIO(content), name)


def write_csv(dataset: Dataset, path: str | os.PathLike, header: bool = True) -> Path:
    """Write ``dataset`` as a CSV in the tutorial's format (``Result``, then 784 pixels), atomically:
    a temporary file of its own, then a rename (see :func:`digitcnn.files.replaced_atomically`), so a
    failed write leaves neither a half-written file nor the temporary one, and writes to one path at
    once each leave a whole file. A target that cannot be written, or that exists and is not a regular
    file (a symbolic link, a device), raises :class:`DataError` naming it."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"cannot write {path.name}: it is a folder")
    if not path.parent.is_dir():
        raise DataError(f"cannot write {path.name}: no such folder {path.parent.name}/")
    table = np.column_stack([dataset.labels, dataset.images.reshape(len(dataset), PIXEL_COUNT)])
    columns = [CSV_LABEL_HEADER] + [f"pixel{i}" for i in range(PIXEL_COUNT)]
    try:
        with files.replaced_atomically(path) as temporary:
            pd.DataFrame(table, columns=columns).to_csv(temporary, index=False, header=header)
    except OSError as error:
        reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                  errno.EROFS: "read-only file system",  # its folder exists: a refused creation is read-only too
                  errno.ENOENT: "its folder takes no new files (read-only)"}.get(error.errno)
        raise DataError(f"cannot write {path.name}: {reason or files.reason(error).lower()}") from None
    return path


def _read_csv(stream, name: str) -> Dataset:
    blocks = _csv_blocks(stream, name)
    first = next(blocks, b"").removeprefix(codecs.BOM_UTF8)
    first_line, rest = _split_first_line(first)
    if not first_line.strip():
        if all(not block or block.isspace() for block in itertools.chain([first], blocks)):
            raise DataError(f"{name}: the file is empty")
        raise DataError(f"{name}, line 1: blank; the header or the first row must be on line 1")
    column_names, label_column = _csv_layout(first_line, name)
    line_number = 2 if column_names else 1
    images, labels = [], []
    for block in itertools.chain([rest if column_names else first], blocks):
        block_images, block_labels, line_number = _csv_block(block, line_number, name, column_names, label_column)
        images.append(block_images)
        labels.append(block_labels)
    if not sum(len(part) for part in labels):
        raise DataError(f"{name}: no data rows{' after the header' if column_names else ''}")
    return Dataset(np.concatenate(images), np.concatenate(labels), name)


def _check_csv_size(size: int, name: str) -> None:
    limit = config.max_csv_bytes()
    if size > limit:
        raise DataError(f"{name}: {size / 1e6:,.0f} MB is over the {limit / 1e6:,.0f} MB limit for CSV files "
                        f"(set {config.MAX_CSV_MB_VARIABLE} to raise it)")


def _csv_blocks(stream, name: str):
    """The stream's bytes in blocks of whole lines (about ``_CSV_BLOCK_BYTES`` each), checked as
    they are read: the size limit counts the bytes read, UTF-16 and binary files are named as such.
    Unfinished lines are held back until a line ends, but no longer than it takes to be sure one is
    over ``_CSV_MAX_LINE_BYTES`` (what was held can start with a piece of a line before): that line
    is handed on unfinished, at the end of its block, to be refused by its length."""
    pending, pending_size, total = [], 0, 0
    while piece := stream.read(_CSV_BLOCK_BYTES):
        if not total:
            _refuse_utf16(piece, name)
        total += len(piece)
        _check_csv_size(total, name)
        if b"\x00" in piece:
            raise DataError(f"{name}: not a CSV text file (it holds binary data)")
        end = max(piece.rfind(b"\n"), piece.rfind(b"\r", 0, len(piece) - 1)) + 1  # a last \r may begin \r\n
        if not end and pending_size + len(piece) <= _CSV_MAX_LINE_BYTES + _CSV_BLOCK_BYTES:
            pending.append(piece)
            pending_size += len(piece)
            continue
        end = end or len(piece)
        yield b"".join([*pending, piece[:end]])
        pending, pending_size = [piece[end:]], len(piece) - end
    if pending_size:
        yield b"".join(pending)


def _refuse_utf16(start: bytes, name: str) -> None:
    """UTF-16 text (what Excel calls "Unicode text") has a byte-order mark, or NULs in every other byte."""
    head = start[:4096]
    even, odd = head[0::2], head[1::2]
    alternate_nuls = len(head) >= 4 and (
        (odd.count(0) == len(odd) and 0 not in even) or (even.count(0) == len(even) and 0 not in odd)
    )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or alternate_nuls:
        raise DataError(f"{name}: the file is UTF-16 text: save it as UTF-8 (in Excel: CSV UTF-8)")


def _split_first_line(block: bytes) -> tuple[bytes, bytes]:
    end = _LINE_END.search(block)
    return (block, b"") if end is None else (block[: end.start()], block[end.end() :])


def _csv_layout(line: bytes, name: str) -> tuple[list[str] | None, int]:
    """From line 1: the column names (None when it is a row of numbers) and the label column."""
    if len(line) > _CSV_MAX_LINE_BYTES:
        raise DataError(f"{name}, line 1: over {_CSV_MAX_LINE_BYTES >> 20} MiB long; not a header or a row of digits")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{name}, line 1: not a CSV text file (byte {error.start} is not UTF-8 text)") from None
    cells = [cell.strip().strip('"').strip() for cell in text.split(",")]
    has_header = not all(_is_number(cell) for cell in cells)
    if len(cells) != CSV_COLUMN_COUNT:
        what = "header has" if has_header else "has"
        raise DataError(
            f"{name}, line 1: {what} {len(cells)} columns, expected {CSV_COLUMN_COUNT} "
            f"(a label and {PIXEL_COUNT} pixels)"
        )
    if not has_header:
        return None, 0
    labelled = [i for i, cell in enumerate(cells) if cell.lower() in LABEL_COLUMN_NAMES]
    if not labelled:
        raise DataError(
            f"{name}, line 1: no label column; name it 'Result' or 'label' "
            f"(the header starts {', '.join(cells[:3])}, …)"
        )
    return cells, labelled[0]


def _csv_block(block: bytes, first_line: int, name: str, column_names, label_column: int):
    """The images and labels of one block whose first line is line ``first_line`` of the file,
    and the number of the line after it. Blank lines are dropped before pandas sees the block, so
    each row pandas gives is a known line, and a line of the wrong width is refused before it is
    parsed, so no row can cost more memory than its 785 numbers."""
    array = np.frombuffer(block, dtype=np.uint8)
    starts, ends = _line_bounds(array)
    next_line = first_line + len(starts)
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as error:
            row = int(np.searchsorted(starts, error.start, side="right")) - 1
            raise DataError(f"{name}, line {first_line + row}: not a CSV text file "
                            f"(byte {error.start - starts[row]} of the line is not UTF-8 text)") from None
    filled = np.logical_or.reduceat(_INK_BYTES[array], starts)
    commas = np.add.reduceat(array == ord(","), starts, dtype=np.int64)
    lengths = ends - starts
    wrong = filled & ((commas != CSV_COLUMN_COUNT - 1) | (lengths > _CSV_MAX_LINE_BYTES))
    if wrong.any():
        row = int(np.argmax(wrong))
        if lengths[row] > _CSV_MAX_LINE_BYTES:
            raise DataError(f"{name}, line {first_line + row}: over {_CSV_MAX_LINE_BYTES >> 20} MiB long; "
                            f"not a row of {CSV_COLUMN_COUNT} numbers")
        raise DataError(f"{name}, line {first_line + row}: {commas[row] + 1} values, expected {CSV_COLUMN_COUNT}")
    kept = np.flatnonzero(filled)
    if not len(kept):
        return np.empty((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8), np.empty(0, np.int64), next_line
    if len(kept) < len(starts):
        block = b"\n".join([block[start:end] for start, end in zip(starts[kept].tolist(), ends[kept].tolist())])
    line_numbers = first_line + kept
    values = _csv_numbers(block, name, line_numbers, column_names)
    _check_complete(values, name, line_numbers, column_names)
    labels = values[:, label_column]
    pixels = np.delete(values, label_column, axis=1)
    pixel_columns = [i for i in range(CSV_COLUMN_COUNT) if i != label_column]
    _check_whole_in_range(labels[:, None], 0, 9, "label", name, line_numbers, [label_column], column_names)
    _check_whole_in_range(pixels, 0, 255, "pixel", name, line_numbers, pixel_columns, column_names)
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE), labels.astype(np.int64), next_line


def _line_bounds(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each line starts and where its text ends. Lines end at \\n, \\r\\n or a lone \\r, as
    pandas and bytes.splitlines() see them; a last line may lack its end."""
    newline = array == ord("\n")
    lone_return = array == ord("\r")
    lone_return[:-1] &= ~newline[1:]
    ends = np.flatnonzero(newline | lone_return)
    starts = np.concatenate(([0], ends + 1))
    ends = np.append(ends, len(array))
    if starts[-1] == len(array):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _csv_numbers(text: bytes, name: str, line_numbers: np.ndarray, column_names) -> np.ndarray:
    """The rows of ``text`` (785 cells each, no blank lines) as float64; quotes around a whole cell
    are dropped. When a cell is not a number, halving finds the first such row, then its first such
    cell (parsed in place, as pandas saw it), to be named."""
    if b'"' in text:
        text = _QUOTED_CELL.sub(rb"\1", text)
    try:
        return _parse_floats(text)
    except ValueError:
        rows = text.splitlines()
    row = _first_failing(rows, lambda part: _parse_floats(b"\n".join(part)))
    position = _first_failing(range(CSV_COLUMN_COUNT), lambda part: _parse_floats(rows[row], usecols=list(part)))
    value = rows[row].split(b",")[position].decode("utf-8").strip()
    where = f"{name}, line {line_numbers[row]}, {_column(position, column_names)}"
    if not value:
        raise DataError(f"{where}: empty or NaN cell")
    raise DataError(f"{where}: {_shorten(value)!r} is not a number{_repeated_header_hint(value, column_names)}")


def _parse_floats(text: bytes, usecols=None) -> np.ndarray:
    """``text`` as float64 by pandas, which raises ValueError on a cell that is not a number, except
    that it reads a column of nothing but True and False as 1 and 0: those raise ValueError here.
    ``usecols`` (the cells to parse) is only given for a single row."""
    cells = text if usecols is None else b",".join(text.split(b",")[i] for i in usecols)
    has_their_letters = any(letter in cells for letter in (b"u", b"U", b"l", b"L"))  # a quick look before the search
    if has_their_letters and _BOOLEAN_CELL.search(cells):
        raise ValueError("True and False are not numbers")
    return pd.read_csv(io.BytesIO(text), header=None, usecols=usecols, dtype=np.float64,
                       quoting=csv.QUOTE_NONE, skip_blank_lines=False).to_numpy()


def _first_failing(items, parse) -> int:
    """The index of the first item that ``parse`` fails on (a ValueError), given that it fails on
    ``items`` as a whole: by halving, so each item is parsed about twice in all."""
    low, high = 0, len(items)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            parse(items[low:middle])
        except ValueError:
            high = middle
        else:
            low = middle
    return low


def _check_complete(values: np.ndarray, name, line_numbers, column_names) -> None:
    missing = np.isnan(values)
    if not missing.any():
        return
    row = int(np.argmax(missing.any(axis=1)))
    present = int((~missing[row]).sum())
    first_missing = int(np.argmax(missing[row]))
    if not present:
        raise DataError(f"{name}, line {line_numbers[row]}: every cell is empty")
    if missing[row, first_missing:].all():
        raise DataError(f"{name}, line {line_numbers[row]}: {present} values, expected {CSV_COLUMN_COUNT}")
    raise DataError(f"{name}, line {line_numbers[row]}, {_column(first_missing, column_names)}: empty or NaN cell")


def _check_whole_in_range(values, low, high, what, name, line_numbers, columns, column_names) -> None:
    bad = (values < low) | (values > high) | (values != np.round(values))
    if not bad.any():
        return
    row, position = np.argwhere(bad)[0]
    value = values[row, position]
    shown = int(value) if value == np.round(value) and np.isfinite(value) else value
    raise DataError(
        f"{name}, line {line_numbers[row]}, {_column(columns[position], column_names)}: "
        f"{what} value {shown} is not a whole number {low}–{high}"
    )


def _column(position: int, column_names) -> str:
    label = f"column {position + 1}"
    return f"{label} ({column_names[position]!r})" if column_names else label


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _shorten(value, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _repeated_header_hint(value, column_names) -> str:
    return " (a repeated header row?)" if column_names and str(value).strip() in column_names else ""
