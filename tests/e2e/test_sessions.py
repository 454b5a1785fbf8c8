"""Several people on one server: each user's training is their own, and stopping the server mid-training is clean."""

import re
import signal
import subprocess

from browser_steps import (FIRST_BATCH_TIMEOUT, expect_no_exception, new_tab, open_page, settler, start_training,
                           wait_for_results)
from playwright.sync_api import expect

from benchmarks.common import running_app


def test_two_users_training_models_of_the_same_name_keep_their_own_jobs(browser, app_url):
    """Once, user B's training under A's model name took over A's page, and A's Cancel stopped B's run."""
    alice, bob = new_tab(browser, app_url), new_tab(browser, app_url)
    try:
        # Alice's run (the most epochs the page allows) outlasts Bob's whole run, his worker's start included:
        # 50 epochs (89 s) once ended first in a CI run with two test processes.
        start_training(alice, settler(alice), "my-model", epochs=200, images=1500)
        start_training(bob, settler(bob), "my-model", epochs=1, images=300)
        wait_for_results(bob, "my-model", timeout=FIRST_BATCH_TIMEOUT)

        expect(alice.get_by_role("heading", name="Training my-model")).to_be_visible()
        # still Alice's own run
        expect(alice.get_by_text(re.compile(r"^Epoch \d+/200 ·"))).to_be_visible(timeout=30_000)
        alice.get_by_role("button", name="Cancel").click()
        expect(alice.get_by_text("Training of my-model was cancelled")).to_be_visible(timeout=60_000)
        expect_no_exception(alice)

        bob.get_by_text("Share of each true digit").click()  # any rerun: Bob's results are still his
        wait_for_results(bob, "my-model")
        expect(bob.get_by_role("button", name="Save as my-model")).to_be_visible()
    finally:
        alice.context.close()
        bob.context.close()


def test_a_reloaded_page_finds_its_training_again_and_another_browser_does_not(browser, app_url):
    """Once, reloading the page mid-training lost the training: gone from the page, it ran on unseen, and held its
    place in line from others. A reload is a new session of the same browser: the training is the browser's."""
    alice, bob = new_tab(browser, app_url), new_tab(browser, app_url)  # two browsers: contexts share no cookie
    try:
        start_training(alice, settler(alice), "reloaded", epochs=200, images=1500)
        expect(alice.get_by_text(re.compile(r"^Epoch \d+/200 ·"))).to_be_visible(timeout=FIRST_BATCH_TIMEOUT)
        alice.reload()
        expect(alice.get_by_role("heading", name="Training reloaded")).to_be_visible(timeout=60_000)
        expect(alice.get_by_text(re.compile(r"^Epoch \d+/200 ·"))).to_be_visible(timeout=30_000)  # live again

        open_page(bob, "Train & evaluate", "Train & evaluate")
        expect(bob.get_by_role("button", name="Train", exact=True)).to_be_visible()
        settler(bob)()
        expect(bob.get_by_role("heading", name="Training reloaded")).to_have_count(0)
        expect(bob.get_by_role("button", name="Cancel")).to_have_count(0)

        alice.get_by_role("button", name="Cancel").click()  # the reloaded page's Cancel still reaches the training
        expect(alice.get_by_text("Training of reloaded was cancelled")).to_be_visible(timeout=60_000)
        expect_no_exception(alice)
    finally:
        alice.context.close()
        bob.context.close()


def test_a_training_beyond_the_limit_waits_in_line_and_starts_when_the_one_ahead_ends(browser, e2e_models_dir):
    """One training at a time: Bob waits, sees his place, can leave the line; when Alice closes her tab,
    her session ends and its training with it, and Bob's starts by itself."""
    environment = {"DIGITCNN_MODELS_DIR": str(e2e_models_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "DIGITCNN_MAX_TRAININGS": "1", "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "1"}
    with running_app(environment) as (url, _, _server):
        alice, bob = new_tab(browser, url), new_tab(browser, url)
        try:
            start_training(alice, settler(alice), "alices", epochs=200, images=1500)
            start_training(bob, settler(bob), "bobs", epochs=1, images=300, queued=True)
            expect(bob.get_by_text("Yours is next")).to_be_visible()
            bob.get_by_role("button", name="Cancel").click()
            expect(bob.get_by_text("Training of bobs was cancelled")).to_be_visible(timeout=30_000)
            expect_no_exception(bob)

            bob.get_by_role("button", name="Train", exact=True).click()  # back in line
            expect(bob.get_by_role("heading", name="bobs is number 1 in line")).to_be_visible(timeout=30_000)
            alice.bring_to_front()  # the tab in front is Bob's: Chromium may slow the timers of one behind it
            expect(alice.get_by_text(re.compile(r"^Epoch \d+/200 ·"))).to_be_visible(timeout=FIRST_BATCH_TIMEOUT)
            alice.context.close()  # Alice leaves: once her session ends, nobody waits for her training
            wait_for_results(bob, "bobs", timeout=180_000)
        finally:
            for tab in (alice, bob):
                if not tab.is_closed():
                    tab.context.close()


def test_stopping_the_server_with_ctrl_c_mid_training_exits_cleanly(browser, e2e_models_dir, tmp_path):
    """Ctrl-C used to end in "terminate called after throwing an instance of … FATAL: exception not rethrown"."""
    log = tmp_path / "streamlit.log"
    with running_app({"DIGITCNN_MODELS_DIR": str(e2e_models_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}, log) as (url, _, server):
        tab = new_tab(browser, url)
        try:
            start_training(tab, settler(tab), "interrupted", epochs=50, images=1500)
            expect(tab.get_by_text(re.compile(r"^Epoch \d+/50 ·"))).to_be_visible(timeout=FIRST_BATCH_TIMEOUT)
        finally:
            tab.context.close()
        server.send_signal(signal.SIGINT)
        try:
            status = server.wait(60)
        except subprocess.TimeoutExpired:
            status = "still running after 60 s"
    output = log.read_text()
    assert "terminate called" not in output and "FATAL" not in output, output[-2000:]
    assert status == 0, output[-2000:]
