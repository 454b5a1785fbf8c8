import gzip

import numpy as np
import pytest

from digitcnn import data
from digitcnn.errors import DataError, SettingsError


# --- the embedded default ------------------------------------------------------------------


def test_embedded_sample_is_5000_real_digits(embedded):
    assert embedded.images.shape == (5000, 28, 28)
    assert embedded.images.dtype == np.uint8
    assert embedded.class_counts().tolist() == [500] * 10
    assert embedded.images.max() == 255 and embedded.images.min() == 0
    assert embedded.test is None
    assert "embedded" in embedded.source


def test_named_sources_are_loaded_by_name(embedded):
    assert len(data.load_dataset("embedded")) == len(embedded)


# --- IDX files --------------------------------------------------------------------------------


def _write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    content = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(content) if compress else content)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_gives_train_and_test_sets(tmp_path, small_dataset, compress):
    suffix = ".gz" if compress else ""
    images, labels = small_dataset.images, small_dataset.labels
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images[:100], compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels[:100], compress)
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images[100:130], compress)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels[100:130], compress)

    loaded = data.load_dataset(tmp_path)

    np.testing.assert_array_equal(loaded.images, images[:100])
    np.testing.assert_array_equal(loaded.labels, labels[:100])
    np.testing.assert_array_equal(loaded.test.images, images[100:130])
    np.testing.assert_array_equal(loaded.test.labels, labels[100:130])


def test_idx_folder_without_test_files_has_no_test_set(tmp_path, small_dataset):
    _write_idx(tmp_path / "train-images-idx3-ubyte", small_dataset.images[:10], False)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", small_dataset.labels[:10], False)
    assert data.load_idx_folder(tmp_path).test is None


def test_folder_without_idx_files_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no train-images-idx3-ubyte"):
        data.load_dataset(tmp_path)


def test_truncated_idx_file_names_the_file(tmp_path, small_dataset):
    path = tmp_path / "train-images-idx3-ubyte"
    _write_idx(path, small_dataset.images[:10], False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        data.read_idx(path)


def test_file_that_is_not_idx_is_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="bad magic number"):
        data.read_idx(path)


def test_labels_that_do_not_match_images_are_refused(tmp_path, small_dataset):
    _write_idx(tmp_path / "train-images-idx3-ubyte", small_dataset.images[:10], False)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", small_dataset.labels[:9], False)
    with pytest.raises(DataError, match="9 labels for 10 images"):
        data.load_idx_folder(tmp_path)


# --- Keras's mnist.npz ---------------------------------------------------------------------


def test_keras_cache_is_read_from_keras_home(tmp_path, monkeypatch, small_dataset):
    (tmp_path / "datasets").mkdir()
    images, labels = small_dataset.images, small_dataset.labels
    np.savez(
        tmp_path / "datasets" / "mnist.npz",
        x_train=images[:50],
        y_train=labels[:50],
        x_test=images[50:70],
        y_test=labels[50:70],
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    loaded = data.load_dataset("keras")

    assert len(loaded) == 50 and len(loaded.test) == 20
    np.testing.assert_array_equal(loaded.test.labels, labels[50:70])


def test_missing_keras_cache_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match="no cached MNIST"):
        data.load_dataset("keras")


def test_npz_without_the_expected_arrays_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(DataError, match="missing array"):
        data.load_dataset(path)


def test_failed_download_gives_a_message_with_a_way_out(monkeypatch, tmp_path):
    from keras.datasets import mnist

    def no_network():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(mnist, "load_data", no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match="could not download MNIST.*name resolution.*mnist.npz"):
        data.load_dataset("keras-download")


# --- CSV in the tutorial's format --------------------------------------------------------------


def test_csv_round_trip_keeps_every_pixel(tmp_path, small_dataset):
    path = data.write_csv(small_dataset, tmp_path / "sample.csv")
    loaded = data.load_csv(path)
    np.testing.assert_array_equal(loaded.images, small_dataset.images)
    np.testing.assert_array_equal(loaded.labels, small_dataset.labels)
    assert loaded.source == "sample.csv"
    assert not list(tmp_path.glob("*.tmp"))


def test_csv_without_header_has_its_label_first(tmp_path, small_dataset):
    path = data.write_csv(small_dataset, tmp_path / "bare.csv", header=False)
    np.testing.assert_array_equal(data.load_csv(path).labels, small_dataset.labels)


@pytest.mark.parametrize("label_name", ["Result", "label", "LABEL"])
def test_csv_label_column_may_be_named_result_or_label(make_csv, csv_lines, small_dataset, label_name):
    lines = [csv_lines[0].replace("Result", label_name, 1)] + csv_lines[1:]
    np.testing.assert_array_equal(data.load_csv(make_csv(lines)).labels, small_dataset.labels[:20])


def test_csv_label_column_may_stand_anywhere(make_csv, small_dataset):
    header = ",".join([f"pixel{i}" for i in range(784)] + ["label"])
    rows = [",".join([str(v) for v in image.ravel()] + [str(label)]) for image, label in
            zip(small_dataset.images[:5], small_dataset.labels[:5])]
    loaded = data.load_csv(make_csv([header] + rows))
    np.testing.assert_array_equal(loaded.images, small_dataset.images[:5])
    np.testing.assert_array_equal(loaded.labels, small_dataset.labels[:5])


def test_csv_blank_lines_are_skipped_and_line_numbers_stay_true(make_csv, csv_lines):
    lines = csv_lines[:3] + [""] + csv_lines[3:5] + [csv_lines[5].replace(",0,", ",x,", 1)]
    with pytest.raises(DataError, match=r"digits\.csv, line 7, column \d+ \('pixel\d+'\): 'x' is not a number"):
        data.load_csv(make_csv(lines))
    assert len(data.load_csv(make_csv(csv_lines[:3] + [""] + csv_lines[3:5]))) == 4


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda rows: rows[:2] + [rows[2] + ",0"] + rows[3:], r"line 3: 786 values, expected 785"),
        (lambda rows: rows[:2] + [rows[2].rsplit(",", 5)[0]] + rows[3:], r"line 3: 780 values, expected 785"),
        (lambda rows: rows[:4] + [rows[4].replace(",0,", ",,", 1)] + rows[5:], r"line 5, column \d+ \('pixel\d+'\): empty or NaN cell"),
        (lambda rows: rows[:2] + [rows[2].replace(",0,", ",NaN,", 1)] + rows[3:], r"line 3, column \d+ \('pixel\d+'\): empty or NaN cell"),
        (lambda rows: rows[:2] + [rows[2].replace(",0,", ",256,", 1)] + rows[3:], r"line 3, column \d+ \('pixel\d+'\): pixel value 256 is not a whole number 0–255"),
        (lambda rows: rows[:2] + [rows[2].replace(",0,", ",-1,", 1)] + rows[3:], r"line 3, column \d+ \('pixel\d+'\): pixel value -1 "),
        (lambda rows: rows[:2] + [rows[2].replace(",0,", ",0.5,", 1)] + rows[3:], r"line 3, column \d+ \('pixel\d+'\): pixel value 0.5 "),
        (lambda rows: rows[:3] + ["10" + rows[3][1:]] + rows[4:], r"line 4, column 1 \('Result'\): label value 10 is not a whole number 0–9"),
        (lambda rows: rows[:3] + ["seven" + rows[3][1:]] + rows[4:], r"line 4, column 1 \('Result'\): 'seven' is not a number"),
        (lambda rows: rows[:3] + [rows[0]] + rows[3:], r"line 4, column 1 \('Result'\): 'Result' is not a number \(a repeated header row\?\)"),
        (lambda rows: [rows[0].replace("Result", "digit", 1)] + rows[1:], r"line 1: no label column; name it 'Result' or 'label'"),
        (lambda rows: [rows[0] + ",extra"] + rows[1:], r"line 1: header has 786 columns, expected 785"),
        (lambda rows: [rows[0].split(",", 1)[1]] + [r.split(",", 1)[1] for r in rows[1:]], r"line 1: header has 784 columns, expected 785"),
        (lambda rows: rows[:1], r"no data rows after the header"),
    ],
    ids=[
        "too many values", "too few values", "empty cell", "NaN", "pixel over 255", "negative pixel",
        "fractional pixel", "label 10", "word for label", "repeated header", "no label column",
        "header too long", "no label values", "header only",
    ],
)
def test_malformed_csv_names_file_line_and_column(make_csv, csv_lines, mutate, message):
    with pytest.raises(DataError, match=r"^digits\.csv(, |: )" + f"(.*)({message})"):
        data.load_csv(make_csv(mutate(list(csv_lines))))


def test_empty_csv_is_a_clear_error(make_csv):
    with pytest.raises(DataError, match=r"digits\.csv: the file is empty"):
        data.load_csv(make_csv(""))


def test_binary_file_is_not_taken_for_a_csv(make_csv):
    png_start = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(DataError, match="not a CSV text file"):
        data.load_csv(make_csv(png_start, name="digit.png"))


def test_csv_with_a_byte_order_mark_loads(make_csv, csv_lines):
    text = "\ufeff" + "\n".join(csv_lines) + "\n"
    assert len(data.load_csv(make_csv(text))) == 20


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        data.load_dataset(tmp_path / "nowhere.csv")


# --- the dataset type, the split and the scaling -------------------------------------------


def test_dataset_refuses_labels_outside_0_to_9():
    with pytest.raises(DataError, match="label 12 of image 1"):
        data.Dataset(np.zeros((2, 28, 28), np.uint8), np.array([3, 12]), "made up")


def test_dataset_refuses_images_of_another_size():
    with pytest.raises(DataError, match=r"\(N, 28, 28\)"):
        data.Dataset(np.zeros((2, 32, 32), np.uint8), np.array([3, 1]), "made up")


def test_split_matches_the_tutorial_sizes_and_is_reproducible(embedded):
    train, test = data.split_dataset(embedded, 0.33, seed=42)
    assert (len(train), len(test)) == (3350, 1650)
    again_train, _ = data.split_dataset(embedded, 0.33, seed=42)
    np.testing.assert_array_equal(train.labels, again_train.labels)
    np.testing.assert_array_equal(train.images, again_train.images)
    other_train, _ = data.split_dataset(embedded, 0.33, seed=1)
    assert not np.array_equal(train.labels, other_train.labels)


def test_stratified_split_keeps_each_digit_share(embedded):
    _, test = data.split_dataset(embedded, 0.2, seed=3, stratify=True)
    assert test.class_counts().tolist() == [100] * 10


def test_split_fraction_must_be_between_0_and_1(embedded):
    with pytest.raises(SettingsError, match="between 0 and 1"):
        data.split_dataset(embedded, 1.5)


def test_scaling_gives_network_input_in_0_to_1(small_dataset):
    scaled = data.scale_images(small_dataset.images[:3])
    assert scaled.shape == (3, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.max() == 1.0 and scaled.min() == 0.0
    np.testing.assert_allclose(scaled[..., 0] * 255, small_dataset.images[:3])
