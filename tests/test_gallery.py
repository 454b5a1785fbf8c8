import numpy as np

from digitcnn.views import gallery


def test_enlarge_turns_each_pixel_into_a_square_and_floats_into_bytes():
    image = np.array([[0.0, 1.0], [0.5, 0.25]])
    big = gallery.enlarge(image, 3)
    assert big.shape == (6, 6) and big.dtype == np.uint8
    assert (big[:3, 3:] == 255).all() and (big[3:, :3] == 128).all() and (big[:3, :3] == 0).all()


def test_montage_lays_images_in_rows_with_gaps():
    images = np.stack([np.full((2, 2), value, np.uint8) for value in (10, 20, 30)])
    sheet = gallery.montage(images, columns=2, scale=1, gap=1, gap_value=99)
    assert sheet.shape == (5, 5)
    assert sheet[0, 0] == 10 and sheet[0, 3] == 20 and sheet[3, 0] == 30
    assert sheet[2, 0] == 99 and sheet[0, 2] == 99
    assert sheet[3, 3] == 99  # the empty place after the last image
    assert gallery.montage(images[:0]).size == 0


def test_pages_hold_per_page_images_and_the_last_the_rest():
    indices = np.arange(100, 125)
    assert gallery.page_count(len(indices), 10) == 3
    assert gallery.page_of(indices, 1, 10).tolist() == list(range(100, 110))
    assert gallery.page_of(indices, 3, 10).tolist() == list(range(120, 125))
    assert gallery.page_count(20, 10) == 2
    assert gallery.page_count(0, 10) == 1 and gallery.page_of(indices[:0], 1, 10).size == 0  # one empty page
