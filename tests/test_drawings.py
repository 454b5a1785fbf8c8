"""The store of kept drawings, on real SQLite files: round trips, the dataset it gives, imports, many threads and
processes writing at once, a writer killed mid-write, and files that are not a drawings store (left untouched)."""

import contextlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitcnn import config, data
from digitcnn.data import preprocess
from digitcnn.data.drawings import MAX_CANVAS_PNG_BYTES, SCHEMA_VERSION, Drawing, DrawingStore
from digitcnn.data.writers import PRIVATE_WRITER, is_private, private_writer, shown_writer, writer_name
from digitcnn.errors import DataError, DrawingStoreError, EmptyDrawingError, ImageError, SettingsError
from digitcnn.data import NOT_A_DIGIT

ROOT = config.PROJECT_ROOT


@pytest.fixture
def store(tmp_path):
    return DrawingStore(tmp_path / "drawings.sqlite")


@pytest.fixture(scope="module")
def one_of_each(small_dataset):
    """One real MNIST image of each digit 0–9, in order."""
    return [small_dataset.images[np.flatnonzero(small_dataset.labels == digit)[0]] for digit in range(10)]


def png_bytes(picture: Image.Image) -> bytes:
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    return encoded.getvalue()


def noise_png(side: int, seed: int = 0) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel."""
    return png_bytes(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)))


def python(code: str, *arguments, **options) -> subprocess.Popen:
    """``code`` run by a fresh Python process that imports this project."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, arguments)], text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, **options)


# -- keeping and reading drawings


def test_a_drawing_reads_back_as_it_was_kept_and_a_deletion_can_be_undone(store, one_of_each):
    canvas = png_bytes(Image.new("RGBA", (280, 280), (0, 0, 0, 255)))
    first = store.add("ana", 3, one_of_each[3], canvas_png=canvas, model="default", answer=8, confidence=0.625)
    second = store.add("ana", NOT_A_DIGIT, one_of_each[0])

    drawing = store.get(first)
    assert (drawing.id, drawing.writer, drawing.label, drawing.model, drawing.answer, drawing.confidence) == (
        first, "ana", 3, "default", 8, 0.625)
    assert drawing.image.dtype == np.uint8 and drawing.image.tobytes() == one_of_each[3].tobytes()
    assert drawing.canvas_png == canvas
    assert datetime.fromisoformat(drawing.created).utcoffset() == timedelta(0)
    assert store.get(second).answer is None and store.get(second).canvas_png is None

    deleted = store.delete(first)
    assert deleted == drawing
    with pytest.raises(DrawingStoreError, match=rf"drawings\.sqlite: no drawing {first}$"):
        store.get(first)
    assert store.restore(deleted) == first
    assert store.get(first) == drawing
    assert [each.id for each in store.drawings()] == [first, second]  # back in its place, oldest first
    with pytest.raises(DrawingStoreError, match=f"drawing {first} is there already; nothing restored"):
        store.restore(deleted)

    store.delete(second)
    third = store.add("ana", 5, one_of_each[5])
    assert third > second  # an id is never handed out twice: the deleted one can still be restored
    assert store.restore(Drawing(second, drawing.created, "ana", NOT_A_DIGIT, one_of_each[0])) == second


def test_the_same_picture_kept_again_by_the_same_writer_with_the_same_label_is_kept_once(store, one_of_each):
    first = store.add("ana", 3, one_of_each[3])
    assert store.add("ana", 3, one_of_each[3]) == store.add(" ana", 3, one_of_each[3]) == first
    relabelled = store.add("ana", 8, one_of_each[3])  # another label: another drawing (the app then deletes the first)
    by_another = store.add("ben", 3, one_of_each[3])
    assert len({first, relabelled, by_another}) == 3
    assert [(each.writer, each.label) for each in store.drawings()] == [("ana", 3), ("ana", 8), ("ben", 3)]


def test_a_private_writers_drawings_are_its_own_and_its_key_is_never_shown(store, one_of_each):
    mine, theirs = private_writer("0123456789abcdef" * 2), private_writer("fedcba9876543210" * 2)
    assert writer_name(mine) == mine and mine != theirs
    with pytest.raises(SettingsError, match="16–64 hex digits"):
        private_writer("Ana")
    assert not any(map(is_private, map(writer_name, (mine[1:], PRIVATE_WRITER))))  # no typed name is a private writer
    for almost in (f" {mine}", f"{mine} ", mine[:-1] + "G"):
        with pytest.raises(SettingsError, match="printable"):
            writer_name(almost)
    drawing = store.add(mine, 3, one_of_each[3])
    store.add(theirs, 4, one_of_each[4])
    assert [each.label for each in store.drawings(mine)] == [3]
    assert store.dataset(mine).source == "My drawings (a private writer)"  # what a model card records
    assert shown_writer(mine) == PRIVATE_WRITER and shown_writer(" ana ") == "ana"
    with pytest.raises(DrawingStoreError, match=rf"no drawing {drawing} of this writer"):
        store.delete(drawing, theirs)
    assert store.delete(drawing, mine).id == drawing


def test_a_writers_name_too_long_is_shown_cut_short_in_its_error(store, one_of_each):
    with pytest.raises(SettingsError) as refused:
        store.add("x" * 10_000, 3, one_of_each[3])
    message = str(refused.value)
    assert len(message) < 200 and "(10,000 characters)" in message and "\n" not in message


def test_a_drawing_deleted_meanwhile_cannot_be_deleted_again_and_says_so(store, one_of_each):
    drawing = store.add("ana", 3, one_of_each[3])
    store.delete(drawing, "ana")
    with pytest.raises(DrawingStoreError, match=rf"^drawings\.sqlite: no drawing {drawing}"):
        store.delete(drawing, "ana")


def test_float_images_are_kept_as_the_bytes_the_model_saw(store, one_of_each):
    as_model_input = one_of_each[7].astype(np.float32) / 255
    assert store.get(store.add("me", 7, as_model_input)).image.tobytes() == one_of_each[7].tobytes()
    assert store.get(store.add("me", 7, one_of_each[7].astype(np.int64))).image.tobytes() == one_of_each[7].tobytes()


def test_drawings_are_filtered_and_counted_by_writer_and_label(store, one_of_each):
    for shift, (writer, label) in enumerate([("ben", 1), ("ana", 1), ("ana", 2), ("ben", NOT_A_DIGIT), (" ana ", 1)]):
        store.add(writer, label, np.roll(one_of_each[max(label, 0)], shift, axis=1))  # five different pictures

    assert store.writers() == ["ana", "ben"]  # names are kept without their surrounding blanks
    assert [(each.writer, each.label) for each in store.drawings()] == [
        ("ben", 1), ("ana", 1), ("ana", 2), ("ben", NOT_A_DIGIT), ("ana", 1)]
    assert [each.label for each in store.drawings(writer="ana")] == [1, 2, 1]
    assert [each.writer for each in store.drawings(label=1)] == ["ben", "ana", "ana"]
    assert [each.id for each in store.drawings(latest=2)] == [4, 5]
    assert store.counts() == {**dict.fromkeys(range(10), 0), 1: 3, 2: 1, NOT_A_DIGIT: 1}
    assert store.counts("ana") == {**dict.fromkeys(range(10), 0), 1: 2, 2: 1}  # no not-a-digit key without any
    assert store.counts("nobody") == dict.fromkeys(range(10), 0)


def test_the_dataset_holds_the_digits_only_and_exports_as_the_tutorials_csv(store, one_of_each, tmp_path):
    with pytest.raises(DataError, match=r"^My drawings: no drawings yet"):
        store.dataset()
    store.add("ana", NOT_A_DIGIT, one_of_each[4])
    with pytest.raises(DataError, match=r"^My drawings \(ana\): no drawings yet"):
        store.dataset("ana")
    for writer, digit in [("ana", 4), ("ben", 9), ("ana", 0)]:
        store.add(writer, digit, one_of_each[digit])

    everyone = store.dataset()
    assert everyone.source == "My drawings"
    assert everyone.labels.tolist() == [4, 9, 0]
    np.testing.assert_array_equal(everyone.images, np.stack([one_of_each[4], one_of_each[9], one_of_each[0]]))
    assert store.dataset("ana").source == "My drawings (ana)" and store.dataset("ana").labels.tolist() == [4, 0]

    path = store.export_csv(tmp_path / "mine.csv", writer="ana")
    read_back = data.load_csv(path)
    np.testing.assert_array_equal(read_back.images, store.dataset("ana").images)
    assert read_back.labels.tolist() == [4, 0]


def test_a_large_canvas_picture_is_kept_smaller_and_a_small_one_as_it_is(store, one_of_each):
    large = noise_png(200)
    assert len(large) > 3 * MAX_CANVAS_PNG_BYTES
    kept = store.get(store.add("me", 1, one_of_each[1], canvas_png=large)).canvas_png
    assert len(kept) <= MAX_CANVAS_PNG_BYTES
    assert Image.open(io.BytesIO(kept)).size in [(100, 100), (50, 50)]  # halved until it fits
    small = noise_png(60)
    assert store.get(store.add("me", 7, one_of_each[7], canvas_png=small)).canvas_png == small


@pytest.mark.parametrize("change, shown", [
    ({"writer": ""}, "writer ''"), ({"writer": "   "}, "writer '   '"), ({"writer": "x" * 65}, "writer 'xxxx"),
    ({"writer": "a\nb"}, r"writer 'a\\nb'"), ({"writer": None}, "writer None"),
    ({"label": 10}, "label 10"), ({"label": -2}, "label -2"), ({"label": "3"}, "label '3'"),
    ({"label": True}, "label True"), ({"label": 3.0}, "label 3.0"),
    ({"image": np.zeros((28, 27), np.uint8)}, r"shape \(28, 27\)"),
    ({"image": np.full((28, 28), 255.0)}, "values from 255.0 to 255.0"),
    ({"image": np.full((28, 28), 256)}, "values from 256 to 256"),
    ({"image": np.full((28, 28), np.nan)}, "NaN"),
    ({"image": np.full((28, 28), "a")}, "<U1"),
    ({"canvas_png": b"GIF89a\x01\x00"}, r"b'GIF89a\\x01\\x00'"), ({"canvas_png": "x.png"}, "got str"),
    ({"answer": 10}, "answer 10"), ({"answer": -1}, "answer -1"), ({"confidence": 1.5}, "confidence 1.5"),
    ({"model": 3}, "model 3"),
])
def test_a_bad_value_is_refused_by_name_and_nothing_is_kept(store, one_of_each, change, shown):
    arguments = {"writer": "me", "label": 3, "image": one_of_each[3], **change}
    with pytest.raises(SettingsError, match=shown):
        store.add(**arguments)
    assert store.drawings() == []


def test_ids_and_filters_are_checked(store):
    for bad in (0, -1, "1", 1.0):
        with pytest.raises(SettingsError, match="not a drawing's id"):
            store.get(bad)
    with pytest.raises(SettingsError, match="label 11"):
        store.drawings(label=11)
    with pytest.raises(SettingsError, match="latest=-1"):
        store.drawings(latest=-1)


# -- importing a folder of pictures


def make_picture_folder(folder, one_of_each):
    """Pictures in label folders as people make them: enlarged, light on dark and dark on light, PNG and JPEG,
    and an X that is not a digit; returns {relative path: label}."""
    made = {}
    for digit in (0, 3, 7):
        (folder / str(digit)).mkdir(parents=True)
        enlarged = Image.fromarray(one_of_each[digit]).resize((112, 112), Image.Resampling.BILINEAR)
        enlarged.save(folder / str(digit) / "light-on-dark.png")
        Image.fromarray(255 - np.asarray(enlarged)).convert("RGB").save(folder / str(digit) / "dark-on-light.jpg")
        made |= {f"{digit}/light-on-dark.png": digit, f"{digit}/dark-on-light.jpg": digit}
    (folder / "not-a-digit").mkdir()
    cross = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(cross).line([(20, 20), (80, 80)], fill=0, width=8)
    ImageDraw.Draw(cross).line([(20, 80), (80, 20)], fill=0, width=8)
    cross.save(folder / "not-a-digit" / "cross.png")
    (folder / "3" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden files are passed over
    return made | {"not-a-digit/cross.png": NOT_A_DIGIT}


def test_a_folder_of_labelled_pictures_is_imported_as_photos_are_read(store, one_of_each, tmp_path):
    made = make_picture_folder(tmp_path / "pictures", one_of_each)

    assert store.import_folder(tmp_path / "pictures", "ana") == len(made) == 7

    kept = store.drawings()
    expected = sorted(made.items())  # folders, then files, in the order of their names
    assert [(each.writer, each.label) for each in kept] == [("ana", label) for _, label in expected]
    for drawing, (relative, _) in zip(kept, expected):
        seen = preprocess.photo_to_mnist(preprocess.read_image(tmp_path / "pictures" / relative))
        np.testing.assert_array_equal(drawing.image, np.rint(seen * 255).astype(np.uint8))
    assert store.counts() == {**dict.fromkeys(range(10), 0), 0: 2, 3: 2, 7: 2, NOT_A_DIGIT: 1}


@pytest.mark.parametrize("spoil, error, message", [
    (lambda folder: (folder / "3" / "notes.png").write_text("not a picture"), ImageError,
     r"^pictures/3/notes\.png: not a PNG, .*; nothing imported$"),
    (lambda folder: Image.new("L", (64, 64), 255).save(folder / "7" / "blank.png"), EmptyDrawingError,
     r"^pictures/7/blank\.png: nothing is drawn: draw a digit; nothing imported$"),
    (lambda folder: (folder / "seven").mkdir(), DataError, r"^pictures/seven: pictures/ may hold only folders 0 to 9"),
    (lambda folder: (folder / "README.txt").write_text("hi"), DataError, r"^pictures/README\.txt: "),
], ids=["a file that is no picture", "a blank picture", "an unknown folder", "a loose file"])
def test_one_bad_entry_imports_nothing_and_is_named(store, one_of_each, tmp_path, spoil, error, message):
    make_picture_folder(tmp_path / "pictures", one_of_each)
    spoil(tmp_path / "pictures")
    with pytest.raises(error, match=message):
        store.import_folder(tmp_path / "pictures", "ana")
    assert store.drawings() == []


def test_an_empty_or_missing_folder_is_refused(store, tmp_path):
    (tmp_path / "empty" / "3").mkdir(parents=True)
    with pytest.raises(DataError, match=r"^empty/: no pictures"):
        store.import_folder(tmp_path / "empty", "ana")
    with pytest.raises(DataError, match=r"^no drawings folder named 'absent'$"):
        store.import_folder(tmp_path / "absent", "ana")


# -- many writers at once, and a writer killed


WRITER_PROCESS = """
import os, sys, time
import numpy as np
from digitcnn.data.drawings import DrawingStore
database, writer, go, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = DrawingStore(database)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
for number in range(count):
    store.add(writer, number % 10, np.full((28, 28), number, np.uint8))
"""


def test_threads_and_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "drawings.sqlite"
    store = DrawingStore(path)  # one store for every thread, as the app has
    go = tmp_path / "go"
    processes = [python(WRITER_PROCESS, path, f"process {n}", go, 50, stdout=subprocess.PIPE) for n in range(4)]
    try:
        assert [process.stdout.readline() for process in processes] == ["ready\n"] * 4
        failures = []

        def write(writer):
            try:
                for number in range(50):
                    store.add(writer, number % 10, np.full((28, 28), number, np.uint8))
            except Exception as error:  # noqa: BLE001 - reported below, by the test's thread
                failures.append(error)

        threads = [threading.Thread(target=write, args=(f"thread {n}",)) for n in range(8)]
        go.touch()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [process.wait(timeout=60) for process in processes] == [0] * 4
    finally:
        for process in processes:
            process.kill()  # when the test failed before they finished
            process.communicate()
    assert failures == []

    kept = store.drawings()
    assert len(kept) == len({each.id for each in kept}) == 12 * 50
    assert store.writers() == sorted([f"process {n}" for n in range(4)] + [f"thread {n}" for n in range(8)])
    for writer in store.writers():
        mine = store.drawings(writer=writer)
        assert [each.image[0, 0] for each in mine] == list(range(50))  # each writer's in the order it wrote them
        assert [each.label for each in mine] == [number % 10 for number in range(50)]


KILLED_WRITER = """
import io, sys
import numpy as np
from PIL import Image
from digitcnn.data.drawings import DrawingStore
store = DrawingStore(sys.argv[1])
rng = np.random.default_rng(0)
number = 0
while True:
    picture = io.BytesIO()  # about 19 kB of noise: every transaction writes a few pages
    Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(picture, format="PNG")
    number += 1
    drawing_id = store.add("killed", number % 10, np.full((28, 28), number % 250, np.uint8), picture.getvalue())
    print(drawing_id, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_the_database_whole_with_every_committed_drawing(tmp_path):
    path = tmp_path / "drawings.sqlite"
    committed = set()
    for kill_after in (3, 25):  # twice, the second time over what the first one left
        process = python(KILLED_WRITER, path, stdout=subprocess.PIPE)
        try:
            printed = [int(process.stdout.readline()) for _ in range(kill_after)]
        finally:
            process.send_signal(signal.SIGKILL)
            rest = process.communicate()[0]
        committed |= set(printed) | {int(line) for line in rest.split()}

        store = DrawingStore(path)
        with contextlib.closing(sqlite3.connect(path)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        kept = {each.id: each for each in store.drawings()}
        assert committed <= set(kept)
        assert len(set(kept) - committed) <= 1  # committed while it was killed, before its id was printed
        for drawing in kept.values():
            assert drawing.label == drawing.image[0, 0] % 10  # the row is whole: its image is its label's
            assert Image.open(io.BytesIO(drawing.canvas_png)).size == (80, 80)
        committed = set(kept)


def test_stores_made_at_once_on_a_new_file_all_work(tmp_path):
    path = tmp_path / "new" / "drawings.sqlite"
    errors = []

    def open_and_add(number):
        try:
            DrawingStore(path).add("me", 1, np.full((28, 28), number, np.uint8))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_and_add, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(DrawingStore(path).drawings()) == 6


# -- the file


def test_a_new_store_is_a_wal_database_of_the_current_schema_in_a_folder_made_for_it(tmp_path):
    path = tmp_path / "a" / "b" / "drawings.sqlite"
    DrawingStore(path)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_an_empty_file_becomes_a_store(tmp_path, one_of_each):
    path = tmp_path / "drawings.sqlite"
    path.touch()
    DrawingStore(path).add("me", 2, one_of_each[2])
    assert DrawingStore(path).counts()[2] == 1


def test_the_default_file_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(config.DRAWINGS_DB_VARIABLE, raising=False)
    monkeypatch.setenv(config.DATA_DIR_VARIABLE, str(tmp_path / "data"))
    assert config.drawings_db() == tmp_path / "data" / "drawings.sqlite"
    assert DrawingStore().path == tmp_path / "data" / "drawings.sqlite"
    monkeypatch.setenv(config.DRAWINGS_DB_VARIABLE, str(tmp_path / "mine.sqlite"))
    assert DrawingStore().path == tmp_path / "mine.sqlite" and (tmp_path / "mine.sqlite").is_file()
    assert config.drawings_db(tmp_path / "given.sqlite") == tmp_path / "given.sqlite"


def sqlite_file(path, *statements):
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        for statement in statements:
            connection.execute(statement)


def newer_store(path):
    DrawingStore(path)
    sqlite_file(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def store_of_another_layout(path):
    DrawingStore(path)
    sqlite_file(path, "ALTER TABLE drawings ADD COLUMN mood TEXT")


@pytest.mark.parametrize("make, message", [
    (lambda path: path.write_bytes(np.random.default_rng(1).bytes(4096)), "not an SQLite database"),
    (lambda path: path.write_text("label,pixel0\n3,0\n"), "not an SQLite database"),
    (lambda path: path.write_bytes(b"SQLite format 3\x00" + np.random.default_rng(2).bytes(4080)),
     r"cannot open the drawings \(not an SQLite database, or a damaged one\)"),
    (newer_store, f"schema version {SCHEMA_VERSION + 1}, made by a newer DigitCNN"),
    (lambda path: sqlite_file(path, "CREATE TABLE people (name TEXT)"), r"not a database of drawings \(its tables: "
                                                                        r"people; schema version 0\)"),
    (store_of_another_layout, r"its table of drawings is not laid out as this DigitCNN lays it out \(tables: "
                              r"drawings; schema version 1\)"),
], ids=["random bytes", "a text file", "a damaged database", "a newer schema", "another program's database",
        "another table layout"])
def test_a_file_that_is_not_a_drawings_store_is_refused_by_name_and_left_as_it_is(tmp_path, make, message):
    path = tmp_path / "drawings.sqlite"
    make(path)
    before = path.read_bytes()
    for _ in range(2):  # a second try finds it as it was, too
        with pytest.raises(DrawingStoreError, match=rf"^drawings\.sqlite: .*{message}"):
            DrawingStore(path)
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["drawings.sqlite"]  # no journal or log left beside it


def test_a_folder_or_a_path_under_a_file_is_refused_by_name(tmp_path):
    (tmp_path / "drawings.sqlite").mkdir()
    with pytest.raises(DrawingStoreError, match=r"^drawings\.sqlite: is a folder"):
        DrawingStore(tmp_path / "drawings.sqlite")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DrawingStoreError, match=r"^drawings\.sqlite: its folder a-file/ cannot be made"):
        DrawingStore(tmp_path / "a-file" / "drawings.sqlite")


def test_a_path_that_is_not_a_regular_file_is_refused_and_nothing_is_made_beside_it():
    """``--db /dev/null`` left a journal file in /dev."""
    if not os.path.exists(os.devnull) or os.path.isfile(os.devnull):
        pytest.skip(f"{os.devnull} is not a device here")
    folder = os.path.dirname(os.devnull)
    before = set(os.listdir(folder))
    try:
        with pytest.raises(DrawingStoreError, match=r"^null: not a regular file"):
            DrawingStore(os.devnull)
        assert set(os.listdir(folder)) == before
    finally:
        for name in set(os.listdir(folder)) - before:  # what the unfixed code left
            os.remove(os.path.join(folder, name))


READ_ONLY_LISTING = """
import sys
from digitcnn.data.drawings import DrawingStore
store = DrawingStore(sys.argv[1])
print([(each.writer, each.label) for each in store.drawings()], store.counts("ana")[3])
try:
    store.add("ana", 4, store.drawings()[0].image)
except Exception as error:
    print(type(error).__name__, error)
"""


def test_a_store_on_a_read_only_file_system_can_be_read_and_says_why_nothing_can_be_kept(tmp_path, one_of_each):
    folder = tmp_path / "read-only"
    DrawingStore(folder / "drawings.sqlite").add("ana", 3, one_of_each[3])
    mounted = ["unshare", "--mount", "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && '
               'shift && exec "$@"', "sh", str(folder)]
    if not shutil.which("unshare") or subprocess.run([*mounted, "true"], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only folder here (needs unshare and the right to mount)")
    completed = subprocess.run([*mounted, sys.executable, "-c", READ_ONLY_LISTING, str(folder / "drawings.sqlite")],
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 0, completed.stderr
    listed, refused = completed.stdout.splitlines()
    assert listed == "[('ana', 3)] 1"
    assert refused == ("DrawingStoreError drawings.sqlite: is on a read-only file system: its drawings can be read, "
                       "but none kept or deleted")
    assert sorted(entry.name for entry in folder.iterdir()) == ["drawings.sqlite"]


def test_a_store_whose_file_was_removed_says_so_rather_than_start_afresh(tmp_path, one_of_each):
    store = DrawingStore(tmp_path / "drawings.sqlite")
    (tmp_path / "drawings.sqlite").unlink()
    with pytest.raises(DrawingStoreError, match=r"^drawings\.sqlite: cannot write the drawings"):
        store.add("me", 1, one_of_each[1])
    assert not (tmp_path / "drawings.sqlite").exists()
