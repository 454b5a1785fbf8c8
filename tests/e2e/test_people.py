"""What people type or bring, in a real browser: it shows as text in every user's page (an image address in a
model card is never fetched), no page needs another host, and each browser's drawings are its own."""

import dataclasses
import http.server
import threading
from urllib.parse import urlsplit

import pytest
from browser_steps import STROKES, choose, draw, expect_no_exception, new_tab, open_draw_page, open_page, settler
from playwright.sync_api import expect

from digitcnn.storage import registry

NAVIGATION = [("Dataset browser", "Dataset browser"), ("Train & evaluate", "Train & evaluate"),
              ("Draw a digit", "Draw a digit"), ("Compare models", "Compare models"), ("Home", "DigitCNN")]


@pytest.fixture
def address_counter():
    """A web server on a free loopback port that counts the requests it gets: ``(its URL, the paths asked)``."""
    asked = []

    class Counting(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_hostile_card_and_writer_show_as_text_and_no_page_asks_another_host(page, settle, app_url, e2e_models_dir,
                                                                                address_counter):
    """A writer's name like ![i](http://host/x.png) in one user's model card made every other user's browser fetch
    it; and the page icon came from a font server on the internet."""
    counter_url, asked = address_counter
    hostile = f"![i]({counter_url}/x.png) :red[r]"
    model, card = registry.load_model("default", e2e_models_dir)
    registry.save_model(model, dataclasses.replace(card, name="zz-taught", data_source=hostile), e2e_models_dir)
    origin = urlsplit(app_url)
    elsewhere = []
    page.on("request", lambda request: elsewhere.append(request.url) if urlsplit(request.url).scheme in (
        "http", "https", "ws", "wss") and urlsplit(request.url).netloc != origin.netloc else None)
    page.reload()  # the sidebar lists the new model, and every request from the first one on is seen
    expect(page.get_by_role("heading", name="DigitCNN")).to_be_visible(timeout=60_000)
    choose(page, "Model for drawings", "zz-taught")
    for link, heading in NAVIGATION:
        open_page(page, link, heading)
        settle()
        expect_no_exception(page)
    expect(page.get_by_text("Active model: zz-taught")).to_be_visible()
    page.wait_for_timeout(1000)  # time for any late request
    assert asked == [], f"the card's image address was fetched: {asked}"
    assert elsewhere == [], f"pages asked other hosts: {elsewhere}"

    sidebar = page.get_by_test_id("stSidebar")
    # as it is: no image, no link (in its score, and in what its card says it trained on: it records no images)
    expect(sidebar.get_by_text(f"10,000 images of {hostile}")).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text(f"its card says 60,000 images of {hostile}")).to_be_visible()
    name_field = page.get_by_role("textbox", name="Share my drawings under a name")
    name_field.fill(hostile)
    name_field.press("Enter")
    expect(sidebar.get_by_text(f"shared as {hostile}")).to_be_visible(timeout=30_000)
    open_page(page, "Train & evaluate", "Train & evaluate")  # the writer's name in the teaching section
    expect(page.get_by_text(f"as {hostile} (0 digits so far)")).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stSidebar'] img, [data-testid='stMain'] .stMarkdown img").count() == 0
    page.wait_for_timeout(1000)
    assert asked == [] and elsewhere == [], (asked, elsewhere)


def _my_drawings_of_one(tab):
    """Pick My drawings as the data, open the dataset browser, show the drawings of 1."""
    choose(tab, "Data", "My drawings")
    settler(tab)()
    open_page(tab, "Dataset browser", "Dataset browser")
    expect(tab.get_by_text("Source: My drawings (a private writer)")).to_be_visible(timeout=30_000)
    digits = tab.locator(".st-key-browse_digit")
    digits.scroll_into_view_if_needed()
    digits.get_by_role("radio", name="1", exact=True).click()
    expect(tab.get_by_role("heading", name="Your drawings of 1, to delete one kept by mistake")).to_be_visible()


def test_a_browsers_drawings_are_its_own_across_reloads_and_a_stale_delete_is_a_message(browser, app_url):
    """Everyone shared the drawings of "me"; a Delete of a drawing deleted in another tab crashed the page."""
    alice = new_tab(browser, app_url)
    bob = new_tab(browser, app_url)
    try:
        canvas = open_draw_page(alice)
        draw(alice, canvas, STROKES[7])
        expect(alice.get_by_role("status", name="predicted digit")).to_have_text("7", timeout=30_000)
        choose(alice, "No, it's …", "a 1")
        expect(alice.get_by_text("Kept as a 1 in My drawings (yours alone, this browser)")).to_be_visible(
            timeout=30_000)
        expect(alice.get_by_text("My drawings: yours alone (this browser)")).to_be_visible()

        choose(bob, "Data", "My drawings")  # another browser: none of its own, none of Alice's
        expect(bob.get_by_test_id("stSidebar").get_by_text("My drawings (a private writer): no drawings yet")
               ).to_be_visible(timeout=30_000)

        alice.reload()  # a new session of the same browser: its drawings are still its own
        expect(alice.get_by_role("heading", name="Draw a digit", exact=True)).to_be_visible(timeout=60_000)
        _my_drawings_of_one(alice)
        expect(alice.get_by_role("button", name="Delete")).to_have_count(1)

        second_tab = alice.context.new_page()  # the same browser, another tab: the same drawings
        second_tab.goto(app_url)
        second_tab.get_by_role("heading", name="DigitCNN").wait_for()
        _my_drawings_of_one(second_tab)
        second_tab.get_by_role("button", name="Delete").click()
        expect(second_tab.get_by_role("button", name="Delete")).to_have_count(0, timeout=30_000)
        alice.bring_to_front()
        alice.get_by_role("button", name="Delete").click()  # deleted already, in the other tab
        expect(alice.get_by_text("had been deleted already")).to_be_visible(timeout=30_000)
        expect_no_exception(alice)
        expect(alice.get_by_role("heading", name="Dataset browser", exact=True)).to_be_visible()
    finally:
        alice.context.close()
        bob.context.close()
