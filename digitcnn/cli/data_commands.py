"""The commands on data: ``export-csv``, ``download-mnist`` and ``drawings add|list|export|import``."""

from __future__ import annotations

import os
from pathlib import Path

from digitcnn import config, data
from digitcnn.cli.output import DownloadProgress, display_width, padded
from digitcnn.cli.typed import typed_dataset, typed_path
from digitcnn.errors import EmptyDrawingError, ImageError, SettingsError
from digitcnn.percentages import probability_text

DEFAULT_WRITER = "me"
NOT_A_DIGIT_WORDS = ("none", "not-a-digit")
LATEST_SHOWN = 5  # drawings listed by `drawings list`


def export_csv(arguments) -> int:
    dataset = typed_dataset(arguments.data)
    stop = len(dataset) if arguments.count is None else arguments.first + arguments.count
    if not 0 <= arguments.first < len(dataset) or stop > len(dataset) or stop <= arguments.first:
        raise data.DataError(
            f"{dataset.source}: holds {len(dataset):,} images; cannot write from {arguments.first} to {stop}"
        )
    part = dataset.subset(slice(arguments.first, stop))
    path = data.write_csv(part, arguments.out, header=not arguments.no_header)
    print(f"wrote {len(part):,} rows to {path}")
    return 0


def download_mnist(arguments) -> int:
    from digitcnn.data import download

    folder = config.mnist_download_dir(arguments.data_dir)
    if not download.is_downloaded(arguments.data_dir):
        address = config.mnist_url(arguments.url)
        print(f"downloading the full MNIST ({download.DOWNLOAD_BYTES / 1e6:.0f} MB) from {address} into {folder}/")
        with DownloadProgress() as progress:
            download.download_mnist(address, arguments.data_dir, on_progress=progress,
                                    on_wait=lambda: print("another download into it is under way: waiting for it"))
    print(f"the full MNIST is in {folder}/: use it with --data {folder}; the app lists it as Full MNIST (downloaded)")
    return 0


def drawings_add(arguments) -> int:
    from digitcnn.data import preprocess
    from digitcnn.data.drawings import DrawingStore
    from digitcnn.data.writers import writer_name

    label = _drawing_label(arguments.label)
    writer = writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    images = []
    for path in arguments.images:  # all read before any is kept: a bad picture keeps none
        try:
            picture = preprocess.read_image(typed_path(path, "picture file", ImageError))
            images.append(preprocess.photo_to_mnist(picture))
        except EmptyDrawingError as error:
            raise EmptyDrawingError(f"{os.path.basename(path)}: {error}; nothing kept") from None
        except ImageError as error:
            raise ImageError(f"{error}; nothing kept") from None  # it names the file already
    kept_before = {drawing.id for drawing in store.drawings(writer, label)}
    ids = list(dict.fromkeys(store.add(writer, label, image) for image in images))  # a picture is kept once
    new = [drawing_id for drawing_id in ids if drawing_id not in kept_before]
    what = "not a digit" if label == data.NOT_A_DIGIT else f"a {label}"
    print(f"kept {len(new)} drawing{'s' if len(new) != 1 else ''} of {what} by {writer} in {store.path.name}"
          + (f" (id {', '.join(map(str, new))})" if new else ""))
    if repeated := len(images) - len(new):
        print(f"{repeated} of the pictures {'was' if repeated == 1 else 'were'} kept already (the same picture of "
              f"the same label by the same writer): a picture is kept once")
    return 0


def drawings_list(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore
    from digitcnn.data.writers import shown_writer, writer_name

    asked = None if arguments.writer is None else writer_name(arguments.writer)  # "" is refused before any output
    store = DrawingStore(arguments.db)
    writers = [asked] if asked else store.writers()
    table = {writer: store.counts(writer) for writer in writers}
    total = sum(sum(counts.values()) for counts in table.values())
    if not total:
        print(f"{store.path.name}: no drawings yet" + (f" by {asked}" if asked else ""))
        return 0
    print(f"{store.path.name}: {total:,} drawing{'s' if total != 1 else ''} by {len(writers)} "
          f"writer{'s' if len(writers) != 1 else ''}")
    names = {writer: shown_writer(writer) for writer in writers}  # a browser's own drawings: "a private writer"
    width = max(6, *map(display_width, names.values()))
    print(padded("writer", width) + "".join(str(digit).rjust(6) for digit in range(10)) + "  not a digit   total")
    for writer, counts in table.items():
        print(padded(names[writer], width) + "".join(str(counts[digit]).rjust(6) for digit in range(10))
              + str(counts.get(data.NOT_A_DIGIT, 0)).rjust(13) + str(sum(counts.values())).rjust(8))
    print("\nlatest:")
    for drawing in store.drawings(asked, latest=LATEST_SHOWN):
        label = "not a digit" if drawing.label == data.NOT_A_DIGIT else drawing.label
        reading = ""
        if drawing.model is not None:
            answer = "not a digit" if drawing.answer is None else drawing.answer
            confidence = "" if drawing.confidence is None else f", {probability_text(drawing.confidence)} sure"
            reading = f"; {drawing.model} read {answer}{confidence}"
        print(f"  #{drawing.id} {drawing.created} {shown_writer(drawing.writer)}: {label}{reading}")
    return 0


def drawings_export(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore
    from digitcnn.data.writers import writer_name

    writer = None if arguments.writer is None else writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    dataset = store.dataset(writer)
    path = data.write_csv(dataset, arguments.out)
    print(f"wrote {len(dataset):,} drawings of digits ({dataset.source}) to {path}")
    return 0


def drawings_import(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore
    from digitcnn.data.writers import writer_name

    writer = writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    count = store.import_folder(typed_path(arguments.folder, "drawings folder"), writer)
    print(f"imported {count:,} drawing{'s' if count != 1 else ''} by {writer} "
          f"from {Path(arguments.folder).resolve().name}/ into {store.path.name}")
    return 0


def _drawing_label(text: str) -> int:
    """A label as typed: a digit 0–9, or one of :data:`NOT_A_DIGIT_WORDS`."""
    word = text.strip().lower()
    if word in NOT_A_DIGIT_WORDS:
        return data.NOT_A_DIGIT
    if len(word) == 1 and word in "0123456789":
        return int(word)
    raise SettingsError(f"label {text!r} is not a digit 0–9 or {' / '.join(NOT_A_DIGIT_WORDS)} (not a digit)")

