"""The drawings users keep: each reading marked right or corrected, with its label, to fine-tune a model on.

A :class:`DrawingStore` is one SQLite file (``data/drawings.sqlite`` unless told otherwise, see
:func:`digitcnn.config.drawings_db`). Each :class:`Drawing` holds the 28×28 image the model saw, its
label (a digit 0–9, or :data:`~digitcnn.data.NOT_A_DIGIT`), who drew it, and what the model answered.

Many sessions and processes may write at once and lose nothing, and a process killed while it writes
leaves the file whole:

* every call opens its own connection and closes it, so the one store of an app serves any thread
  (an SQLite connection belongs to the thread that made it);
* every write is one transaction, begun ``IMMEDIATE``: it takes the write lock before it reads, and
  waits up to :data:`BUSY_TIMEOUT_SECONDS` for other writers rather than fail;
* the file is in WAL mode: readers never wait for a writer, and a transaction cut short by a kill
  is not in the database when it is next opened (SQLite's write-ahead log does that).

The file is checked before anything is written to it: one that is not a regular file (``/dev/null``), not an
SQLite database, one of a newer schema version (``PRAGMA user_version``) or one with other tables raises
:class:`~digitcnn.errors.DrawingStoreError` naming it, and is left exactly as it was. Reads open the file
read-only, so a store on a read-only file system can still be read (keeping drawings there says why it cannot).

Whose drawings: a *writer* is a name people type or one browser's private writer, never shown by its key
(:mod:`digitcnn.data.writers`, whose names this module offers too).
"""

from __future__ import annotations

import contextlib
import io
import numbers
import os
import sqlite3
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from digitcnn import config, files
from digitcnn.data import preprocess
from digitcnn.data.csv_files import write_csv
from digitcnn.data.dataset import IMAGE_SIDE, NOT_A_DIGIT, Dataset
from digitcnn.data.writers import shown_writer, writer_name
from digitcnn.errors import DataError, DrawingStoreError, EmptyDrawingError, ImageError, SettingsError, not_found

SCHEMA_VERSION = 1  # kept in PRAGMA user_version; a file of a higher version was made by a newer DigitCNN
BUSY_TIMEOUT_SECONDS = 10.0  # how long a write waits for the others before it gives up
MAX_CANVAS_PNG_BYTES = 30_000  # larger canvas pictures are halved in size until they fit
LABELS = (*range(10), NOT_A_DIGIT)
NOT_A_DIGIT_FOLDER = "not-a-digit"
LABEL_FOLDERS = {**{str(digit): digit for digit in range(10)}, NOT_A_DIGIT_FOLDER: NOT_A_DIGIT}
SOURCE_NAME = "My drawings"

_SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PIXELS = IMAGE_SIDE * IMAGE_SIDE
# AUTOINCREMENT: an id is never handed out twice, so a deleted drawing can always be restored under its own id.
# The CHECKs repeat what add() checks, so that no other program can leave a row that reads back wrong.
_SCHEMA = (
    f"""CREATE TABLE drawings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL,
        writer TEXT NOT NULL,
        label INTEGER NOT NULL CHECK (label BETWEEN {NOT_A_DIGIT} AND 9),
        image BLOB NOT NULL CHECK (length(image) = {_PIXELS}),
        canvas_png BLOB,
        model TEXT,
        answer INTEGER CHECK (answer BETWEEN 0 AND 9),
        confidence REAL CHECK (confidence BETWEEN 0 AND 1)
    )""",
    "CREATE INDEX drawings_by_writer ON drawings (writer, label)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_COLUMNS = "id, created, writer, label, image, canvas_png, model, answer, confidence"
_INSERT = f"INSERT INTO drawings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True, eq=False)
class Drawing:
    """One kept drawing. ``image`` is what the model saw, uint8 (28, 28), 0 = background, 255 = ink;
    ``label`` is the true digit or :data:`~digitcnn.data.NOT_A_DIGIT`; ``answer`` is the digit the model
    read (None: it said "not a digit", or no model read it), with its ``confidence``; ``created`` is ISO 8601 UTC.
    Two drawings are equal when all their fields are."""

    id: int
    created: str
    writer: str
    label: int
    image: np.ndarray = field(repr=False)
    canvas_png: bytes | None = field(default=None, repr=False)
    model: str | None = None
    answer: int | None = None
    confidence: float | None = None

    def __eq__(self, other) -> bool:
        if not isinstance(other, Drawing):
            return NotImplemented
        return all(np.array_equal(getattr(self, name), getattr(other, name)) if name == "image"
                   else getattr(self, name) == getattr(other, name) for name in (each.name for each in fields(self)))


class DrawingStore:
    """The drawings kept in one SQLite file: ``path``, else ``$DIGITCNN_DRAWINGS_DB``, else ``data/drawings.sqlite``.

    The file and its folder are made when missing (an empty file is made a store too). One store may be
    shared by every thread of a process, and many processes may use one file at once.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = config.drawings_db(path)
        self._check_file()
        if self._read_only_file_system():  # nothing can be made or changed there: only read what is there
            if not self.path.exists():
                raise DrawingStoreError(f"{self.path.name}: no such database of drawings, and its folder is on a "
                                        f"read-only file system, where none can be made")
            with self._errors("open"), contextlib.closing(self._connect("ro")) as connection:
                self._check_layout(connection)
            return
        with self._errors("open"), contextlib.closing(self._connect("rwc")) as connection:
            if _layout(connection) == ([], 0):
                # Made here, under the write lock, unless another process made it since the look above.
                with connection:
                    connection.execute("BEGIN IMMEDIATE")
                    if _layout(connection) == ([], 0):
                        for statement in _SCHEMA:
                            connection.execute(statement)
            self._check_layout(connection)
            # Only now, in a file known to be a drawings store: WAL mode is written into the file, and stays.
            _use_wal(connection)

    # -- writing

    def add(self, writer: str, label: int, image, canvas_png: bytes | None = None, model: str | None = None,
            answer: int | None = None, confidence: float | None = None) -> int:
        """Keep a drawing; returns its id. ``image`` is the 28×28 image the model saw: uint8 (or whole numbers)
        0–255, or floats in [0, 1] as :func:`~digitcnn.data.preprocess.canvas_to_mnist` gives them. ``canvas_png``
        larger than :data:`MAX_CANVAS_PNG_BYTES` is kept at a smaller size. A bad value raises
        :class:`~digitcnn.errors.SettingsError` naming it. The same picture kept again by the same writer with
        the same label is kept once: the id of the one kept before is returned (the same picture added again
        teaches nothing more, and would be counted as more drawings than there are)."""
        row = _row(None, _now(), writer, label, image, canvas_png, model, answer, confidence)
        with self._writing() as connection:
            kept = connection.execute("SELECT id FROM drawings WHERE writer = ? AND label = ? AND image = ? LIMIT 1",
                                      (row[2], row[3], row[4])).fetchone()
            return kept[0] if kept else connection.execute(_INSERT, row).lastrowid

    def delete(self, drawing_id: int, writer: str | None = None) -> Drawing:
        """Remove a drawing (``writer``'s only, when given); returns it, for :meth:`restore` to put back (an
        undo). One that is not there (deleted meanwhile, or another writer's) raises
        :class:`~digitcnn.errors.DrawingStoreError`."""
        drawing_id = _drawing_id(drawing_id)
        writer = None if writer is None else writer_name(writer)
        with self._writing() as connection:
            drawing = self._get(connection, drawing_id)
            if writer is not None and drawing.writer != writer:
                raise DrawingStoreError(f"{self.path.name}: no drawing {drawing_id} of this writer")
            connection.execute("DELETE FROM drawings WHERE id = ?", (drawing_id,))
        return drawing

    def restore(self, drawing: Drawing) -> int:
        """Put back a drawing that :meth:`delete` returned, under its own id; returns the id."""
        row = _row(_drawing_id(drawing.id), drawing.created, drawing.writer, drawing.label, drawing.image,
                   drawing.canvas_png, drawing.model, drawing.answer, drawing.confidence)
        with self._writing() as connection:
            if connection.execute("SELECT 1 FROM drawings WHERE id = ?", (drawing.id,)).fetchone():
                raise DrawingStoreError(f"{self.path.name}: drawing {drawing.id} is there already; nothing restored")
            connection.execute(_INSERT, row)
        return drawing.id

    def import_folder(self, folder: str | os.PathLike, writer: str) -> int:
        """Keep every picture in ``folder``'s sub-folders ``0`` to ``9`` (and ``not-a-digit``), labelled by the
        sub-folder, each read as :func:`~digitcnn.data.preprocess.photo_to_mnist` reads a photo; returns how many.

        All or nothing: the first picture that cannot be read (or holds no digit), or anything in ``folder``
        but those sub-folders, raises an error naming it, and nothing is imported. Hidden files (``.DS_Store``)
        are passed over.
        """
        folder = Path(folder).resolve()  # so that messages can name it, "." included
        writer = writer_name(writer)
        if not folder.is_dir():
            raise DataError(not_found("drawings folder", folder.name))
        rows = []
        for label, path in _label_folder_pictures(folder):
            shown = f"{folder.name}/{path.parent.name}/{path.name}"
            try:
                image = preprocess.photo_to_mnist(preprocess.read_image(path))
            except (ImageError, EmptyDrawingError) as error:
                reason = str(error).removeprefix(f"{path.name}: ")  # read_image names the file by its name alone
                raise type(error)(f"{shown}: {reason}; nothing imported") from None
            rows.append(_row(None, _now(), writer, label, image, None, None, None, None))
        with self._writing() as connection:
            connection.executemany(_INSERT, rows)
        return len(rows)

    # -- reading

    def get(self, drawing_id: int) -> Drawing:
        """The drawing of id ``drawing_id``; :class:`~digitcnn.errors.DrawingStoreError` when there is none."""
        drawing_id = _drawing_id(drawing_id)
        with self._reading() as connection:
            return self._get(connection, drawing_id)

    def drawings(self, writer: str | None = None, label: int | None = None, latest: int | None = None) -> list[Drawing]:
        """The drawings, oldest first: all of them, or ``writer``'s, or those of ``label``, or the ``latest`` few."""
        where, parameters = _filter(writer, label)
        query = f"SELECT {_COLUMNS} FROM drawings {where} ORDER BY id DESC"
        if latest is not None:
            if not isinstance(latest, numbers.Integral) or latest < 0:
                raise SettingsError(f"latest={latest!r} is not a count of drawings (a whole number from 0)")
            query += f" LIMIT {int(latest)}"
        with self._reading() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [_drawing(row) for row in reversed(rows)]

    def writers(self) -> list[str]:
        """Everyone who kept drawings, in alphabetical order: names, and private writers as they are kept (show
        them with :func:`shown_writer`)."""
        with self._reading() as connection:
            return [name for (name,) in connection.execute("SELECT DISTINCT writer FROM drawings ORDER BY writer")]

    def counts(self, writer: str | None = None) -> dict[int, int]:
        """How many drawings there are of each label: every digit 0–9 (zero included), then
        :data:`~digitcnn.data.NOT_A_DIGIT` when there are any."""
        where, parameters = _filter(writer, None)
        with self._reading() as connection:
            found = dict(connection.execute(f"SELECT label, COUNT(*) FROM drawings {where} GROUP BY label", parameters))
        counts = {digit: found.get(digit, 0) for digit in range(10)}
        if found.get(NOT_A_DIGIT):
            counts[NOT_A_DIGIT] = found[NOT_A_DIGIT]
        return counts

    def dataset(self, writer: str | None = None) -> Dataset:
        """The drawings of digits (not those marked "not a digit") as a :class:`~digitcnn.data.Dataset`, oldest
        first, named ``My drawings`` (``My drawings (W)`` for writer W's alone, a private writer named as
        :func:`shown_writer` names it). A Dataset cannot be empty: with no such drawings yet, raises
        :class:`~digitcnn.errors.DataError` saying so."""
        source = SOURCE_NAME if writer is None else f"{SOURCE_NAME} ({shown_writer(writer)})"
        where, parameters = _filter(writer, None)
        where += (" AND" if where else "WHERE") + " label >= 0"
        with self._reading() as connection:
            rows = connection.execute(f"SELECT label, image FROM drawings {where} ORDER BY id", parameters).fetchall()
        if not rows:
            raise DataError(f"{source}: no drawings yet of digits 0–9 to learn from")
        images = np.frombuffer(b"".join(image for _, image in rows), dtype=np.uint8)
        labels = np.array([label for label, _ in rows], dtype=np.int64)
        return Dataset(images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), labels, source)

    def export_csv(self, path: str | os.PathLike, writer: str | None = None) -> Path:
        """Write :meth:`dataset` as a CSV in the tutorial's format (see :func:`digitcnn.data.write_csv`)."""
        return write_csv(self.dataset(writer), path)

    # -- the file

    def _check_file(self) -> None:
        """Refuse a path that cannot be a store without opening it in SQLite: a folder, or a file whose first
        bytes are not SQLite's. Make the folder of a missing file."""
        path = self.path
        if path.is_dir():
            raise DrawingStoreError(f"{path.name}: is a folder, not a database of drawings")
        if path.exists() and not path.is_file():  # /dev/null, a pipe: SQLite would put its journal beside it
            raise DrawingStoreError(f"{path.name}: not a regular file, so not a database of drawings; it was left "
                                    f"as it is (name a file for drawings)")
        if not path.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DrawingStoreError(
                    f"{path.name}: its folder {path.parent.name}/ cannot be made ({files.reason(error)})") from None
            return
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(_SQLITE_HEADER))
        except OSError as error:
            raise DrawingStoreError(f"{path.name}: cannot be read ({files.reason(error)})") from None
        if header and header != _SQLITE_HEADER:  # an empty file is an empty database to SQLite
            raise DrawingStoreError(f"{path.name}: not an SQLite database, so not a database of drawings; "
                                    f"it was left as it is (name another file for drawings)")

    def _check_layout(self, connection: sqlite3.Connection) -> None:
        tables, version = _layout(connection)
        if version > SCHEMA_VERSION:
            raise DrawingStoreError(
                f"{self.path.name}: a database of drawings of schema version {version}, made by a newer DigitCNN "
                f"(this one reads version {SCHEMA_VERSION}); it was left as it is: update DigitCNN to use it")
        with contextlib.closing(sqlite3.connect(":memory:")) as blank:
            for statement in _SCHEMA:
                blank.execute(statement)
            expected = _layout(blank)
        if (tables, version) == expected:
            return
        names = [name for kind, name, _ in tables if kind == "table" and not name.startswith("sqlite_")]
        if "drawings" in names:
            raise DrawingStoreError(
                f"{self.path.name}: its table of drawings is not laid out as this DigitCNN lays it out (tables: "
                f"{', '.join(names)}; schema version {version}); it was left as it is")
        raise DrawingStoreError(
            f"{self.path.name}: an SQLite database but not a database of drawings (its tables: "
            f"{', '.join(names) or 'none'}; schema version {version}); it was left as it is "
            f"(name another file for drawings)")

    # -- connections

    def _read_only_file_system(self) -> bool:
        try:
            return bool(os.statvfs(self.path if self.path.exists() else self.path.parent).f_flag & os.ST_RDONLY)
        except (OSError, AttributeError):  # no statvfs (Windows): as if writable, and SQLite says what fails
            return False

    def _connect(self, mode: str) -> sqlite3.Connection:
        # A URI, for its mode: "ro" for reads; "rw" for writes, so that a file removed after the store was made is
        # an error, not a new empty file; "rwc" only when the store is made. On a read-only file system the file
        # is also "immutable": SQLite cannot make the shared-memory file a WAL database's readers otherwise need,
        # and nobody can change the file there anyway.
        # isolation_level None: transactions are begun here, explicitly, never implicitly by the sqlite3 module.
        uri = f"{self.path.absolute().as_uri()}?mode={mode}"
        if mode == "ro" and self._read_only_file_system():
            uri += "&immutable=1"
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)

    @contextlib.contextmanager
    def _reading(self):
        with self._errors("read"), contextlib.closing(self._connect("ro")) as connection:
            yield connection

    @contextlib.contextmanager
    def _writing(self):
        """A connection in a transaction that holds the write lock from its start: committed when the block
        ends, rolled back when it raises. Begun IMMEDIATE, as a transaction that first reads and then writes
        could otherwise find the file changed by another writer, and fail at once instead of waiting."""
        if self._read_only_file_system():
            raise DrawingStoreError(f"{self.path.name}: is on a read-only file system: its drawings can be read, "
                                    f"but none kept or deleted")
        with self._errors("write"), contextlib.closing(self._connect("rw")) as connection, connection:
            connection.execute("BEGIN IMMEDIATE")
            yield connection

    @contextlib.contextmanager
    def _errors(self, doing: str):
        """SQLite's errors as a :class:`DrawingStoreError` naming the file by its name alone (messages reach users)."""
        try:
            yield
        except sqlite3.Error as error:
            reason = str(error)
            if "locked" in reason or "busy" in reason:
                reason = f"other sessions kept it busy for over {BUSY_TIMEOUT_SECONDS:g} s; try again"
            elif isinstance(error, sqlite3.DatabaseError) and "not a database" in reason:
                reason = "not an SQLite database, or a damaged one"
            raise DrawingStoreError(f"{self.path.name}: cannot {doing} the drawings ({reason})") from None

    def _get(self, connection: sqlite3.Connection, drawing_id: int) -> Drawing:
        row = connection.execute(f"SELECT {_COLUMNS} FROM drawings WHERE id = ?", (drawing_id,)).fetchone()
        if row is None:
            raise DrawingStoreError(f"{self.path.name}: no drawing {drawing_id}")
        return _drawing(row)


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode unless it is already. SQLite answers a mode change that meets another
    connection's lock with SQLITE_BUSY at once, without waiting as other statements do (seen when several
    sessions open a new file together), so the change is tried again until the busy timeout has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if not ("locked" in str(error) or "busy" in str(error)):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked")
        time.sleep(0.01)


def _layout(connection: sqlite3.Connection) -> tuple[list, int]:
    """What a database holds, to compare with what a store holds: its tables and indexes (with each table's
    columns as ``PRAGMA table_info`` reports them: names, types, NOT NULL, defaults, keys) and its schema
    version. Reads only."""
    objects = connection.execute("SELECT type, name, tbl_name FROM sqlite_master ORDER BY type, name").fetchall()
    tables = [(kind, name, connection.execute("SELECT * FROM pragma_table_info(?)", (name,)).fetchall())
              for kind, name, _ in objects]
    return tables, connection.execute("PRAGMA user_version").fetchone()[0]


def _label_folder_pictures(folder: Path) -> list[tuple[int, Path]]:
    """(label, file) for every file in ``folder``'s label sub-folders, in the order of their names."""
    pictures = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir() or entry.name not in LABEL_FOLDERS:
            raise DataError(f"{folder.name}/{entry.name}: {folder.name}/ may hold only folders 0 to 9 and "
                            f"{NOT_A_DIGIT_FOLDER}, each of pictures of that label; nothing imported")
        pictures += [(LABEL_FOLDERS[entry.name], path) for path in sorted(entry.iterdir())
                     if not path.name.startswith(".")]
    if not pictures:
        raise DataError(f"{folder.name}/: no pictures in folders 0 to 9 or {NOT_A_DIGIT_FOLDER}; nothing imported")
    return pictures


def _row(drawing_id, created, writer, label, image, canvas_png, model, answer, confidence) -> tuple:
    """The values of a row, in the order of ``_COLUMNS``, each checked."""
    if model is not None and not isinstance(model, str):
        raise SettingsError(f"model {model!r} is not a model's name")
    if answer is not None and (not _is_whole(answer) or not 0 <= answer <= 9):
        raise SettingsError(f"answer {answer!r} is not a digit 0–9 (None: the model said not a digit)")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 <= confidence <= 1:
            raise SettingsError(f"confidence {confidence!r} is not a probability from 0 to 1")
        confidence = float(confidence)
    return (drawing_id, created, writer_name(writer), _label(label), image_bytes(image), _small_png(canvas_png),
            model, None if answer is None else int(answer), confidence)


def _label(label) -> int:
    if not _is_whole(label) or label not in LABELS:
        raise SettingsError(f"label {label!r} is not a digit 0–9, or {NOT_A_DIGIT} for not a digit")
    return int(label)


def _drawing_id(drawing_id) -> int:
    if not _is_whole(drawing_id) or drawing_id < 1:
        raise SettingsError(f"{drawing_id!r} is not a drawing's id (a whole number from 1)")
    return int(drawing_id)


def _is_whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _filter(writer, label) -> tuple[str, tuple]:
    conditions, parameters = [], []
    if writer is not None:
        conditions.append("writer = ?")
        parameters.append(writer_name(writer))
    if label is not None:
        conditions.append("label = ?")
        parameters.append(_label(label))
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), tuple(parameters)


def image_bytes(image) -> bytes:
    """The 784 bytes of a 28×28 image: whole numbers 0–255 as they are, floats in [0, 1] scaled to 0–255."""
    array = np.asarray(image)
    if array.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise SettingsError(f"a drawing's image must be 28×28, got shape {array.shape}")
    if array.dtype.kind in "iu":
        if array.min() < 0 or array.max() > 255:
            raise SettingsError(f"a drawing's pixels must be 0–255, got values from {array.min()} to {array.max()}")
        return array.astype(np.uint8).tobytes()
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise SettingsError("a drawing's float pixels must be numbers in [0, 1], got NaN or infinite values")
        if array.min() < 0 or array.max() > 1:
            raise SettingsError(f"a drawing's float pixels must lie in [0, 1] (the model's input), got values "
                                f"from {array.min()} to {array.max()}")
        return np.rint(array * 255).astype(np.uint8).tobytes()
    raise SettingsError(f"a drawing's image must hold numbers (uint8 0–255 or floats 0–1), got {array.dtype}")


def _small_png(canvas_png) -> bytes | None:
    """``canvas_png`` as bytes, halved in size until it is at most :data:`MAX_CANVAS_PNG_BYTES`."""
    if canvas_png is None:
        return None
    if not isinstance(canvas_png, (bytes, bytearray)) or not canvas_png.startswith(_PNG_SIGNATURE):
        is_bytes = isinstance(canvas_png, (bytes, bytearray))
        shown = f"{bytes(canvas_png[:8])!r}…" if is_bytes else type(canvas_png).__name__
        raise SettingsError(f"canvas_png must be the bytes of a PNG picture, got {shown}")
    png = bytes(canvas_png)
    if len(png) <= MAX_CANVAS_PNG_BYTES:
        return png
    picture = preprocess.read_image(io.BytesIO(png))  # decoding is bounded in size; a damaged PNG is an ImageError
    if picture.mode not in ("L", "LA", "RGB", "RGBA"):
        picture = picture.convert("RGBA")  # the modes Image.reduce works in
    while len(png) > MAX_CANVAS_PNG_BYTES and max(picture.size) > 1:
        picture = picture.reduce(2)
        encoded = io.BytesIO()
        picture.save(encoded, format="PNG", optimize=True)
        png = encoded.getvalue()
    return png


def _drawing(row: tuple) -> Drawing:
    drawing_id, created, writer, label, image, canvas_png, model, answer, confidence = row
    pixels = np.frombuffer(image, dtype=np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE)  # read-only, as bytes are
    return Drawing(drawing_id, created, writer, label, pixels, canvas_png, model, answer, confidence)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
