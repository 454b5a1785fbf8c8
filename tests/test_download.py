"""Downloading the full MNIST, from the library, the command line and the sidebar, against a real HTTP server on
this machine (http.server in a thread) that serves the canonical files of $DIGITCNN_MNIST_DIR, whole, cut short or
altered. Tests that need those files skip without them; the failures that need none run everywhere."""

import functools
import gzip
import http.server
import socket
import threading

import pytest
from streamlit.testing.v1 import AppTest

from digitcnn import cli, config, data
from digitcnn.data import download
from digitcnn.errors import DownloadError, SettingsError
from ui.markup import literal


class Server:
    """An HTTP server on 127.0.0.1 serving ``folder`` in a thread: ``url`` is its address, ``requests`` the paths
    asked for (``asked`` is set by the first); ``cut_short`` names a file sent with its full Content-Length but only
    half its bytes, and ``gate`` holds every answer until it is set."""

    def __init__(self, folder, cut_short=None):
        self.requests, self.cut_short = [], cut_short
        self.asked, self.gate = threading.Event(), threading.Event()
        self.gate.set()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                server.asked.set()
                server.gate.wait(30)
                if server.cut_short and self.path.endswith(server.cut_short):
                    content = (folder / server.cut_short).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content[: len(content) // 2])
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, *arguments):  # quiet
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def asked_for(self) -> list[str]:
        return sorted(path.lstrip("/") for path in self.requests)

    def close(self):
        self.gate.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def serve():
    """``serve(folder, cut_short=None)``: a :class:`Server` of ``folder``, shut down after the test."""
    servers = []

    def start(folder, cut_short=None):
        servers.append(Server(folder, cut_short))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def altered(mnist_dir, tmp_path):
    """``altered(name, change)``: a folder of the four files in which ``name`` holds ``change(its content)``,
    gzipped again."""

    def make(name, change):
        folder = tmp_path / "served"
        folder.mkdir()
        for mnist_file in download.FILES:
            (folder / mnist_file.name).symlink_to(mnist_dir / mnist_file.name)
        (folder / name).unlink()
        (folder / name).write_bytes(change((mnist_dir / name).read_bytes()))
        return folder

    return make


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _left_in(data_folder) -> list[str]:
    """The files a download left in the download folder, its lock file aside."""
    folder = config.mnist_download_dir(data_folder)
    return sorted(path.name for path in folder.iterdir() if path.name != ".download.lock") if folder.exists() else []


NAMES = sorted(mnist_file.name for mnist_file in download.FILES)


def test_the_four_files_are_downloaded_checked_and_listed_as_a_source(serve, mnist_dir, tmp_path):
    server, seen = serve(mnist_dir), []
    stale = tmp_path / "mnist" / ".train-images-idx3-ubyte.gz.k1ll3d.tmp"  # a download killed mid-way left it
    stale.parent.mkdir()
    stale.write_bytes(b"half")
    folder = download.download_mnist(server.url, tmp_path, on_progress=seen.append)
    assert folder == tmp_path / "mnist" and _left_in(tmp_path) == NAMES and server.asked_for() == NAMES
    mnist = data.load_dataset(folder)
    assert mnist.images.shape == (60_000, 28, 28) and mnist.test.images.shape == (10_000, 28, 28)
    assert data.SourceChoice(str(folder), "Full MNIST (downloaded)") in data.available_sources(tmp_path)
    received = [progress.received for progress in seen]
    assert received == sorted(received) and seen[-1].received == seen[-1].expected and seen[-1].fraction == 1.0
    assert download.download_mnist(server.url, tmp_path) == folder and len(server.requests) == 4  # not again


def test_the_command_line_downloads_into_the_data_folder_and_says_where(serve, mnist_dir, tmp_path, capsys,
                                                                        monkeypatch):
    server = serve(mnist_dir)
    monkeypatch.setenv(config.MNIST_URL_VARIABLE, server.url)
    assert cli.main(["download-mnist", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"from {server.url} into {tmp_path / 'mnist'}/" in out and f"--data {tmp_path / 'mnist'}" in out
    assert _left_in(tmp_path) == NAMES and server.asked_for() == NAMES


def test_downloads_asked_for_at_once_fetch_each_file_once(serve, mnist_dir, tmp_path):
    """Two sessions of a server join one download; a second process waits for the first, then finds the files."""
    server = serve(mnist_dir)
    server.gate.clear()  # the server answers nothing until the others have asked
    shared = download.shared(tmp_path)
    shared.start(server.url)
    shared.start(server.url)
    assert download.shared(tmp_path) is shared and shared.status().running
    assert server.asked.wait(30)  # the shared download holds the folder's lock, and waits for its first file
    waited = threading.Event()
    other = threading.Thread(target=download.download_mnist, args=(server.url, tmp_path),
                             kwargs={"on_wait": lambda: (waited.set(), server.gate.set())})
    other.start()
    assert waited.wait(30)  # the second downloader found the first under way
    assert shared.wait(60)
    other.join(60)
    status = shared.status()
    assert not status.running and status.error is None and status.progress.fraction == 1.0
    assert server.asked_for() == NAMES and _left_in(tmp_path) == NAMES


def test_an_address_without_the_files_is_said_plainly_and_leaves_nothing(serve, tmp_path):
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty")
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1 has no train-images-idx3-ubyte\.gz at .*\(HTTP 404 "):
        download.download_mnist(server.url, tmp_path / "data")
    assert _left_in(tmp_path / "data") == []


def test_no_network_is_said_plainly(tmp_path):
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1 \(Connection refused\): this machine has no "
                                            r"network, or the address is wrong"):
        download.download_mnist(f"http://127.0.0.1:{_closed_port()}/", tmp_path)
    assert _left_in(tmp_path) == []


def test_a_download_cut_short_leaves_no_file_behind(serve, mnist_dir, tmp_path):
    """The last file breaks off half-way: the three before it, fetched whole, are not placed either."""
    server = serve(mnist_dir, cut_short="t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DownloadError, match=r"the download of t10k-labels-idx1-ubyte\.gz from 127\.0\.0\.1 "
                                            r"(stopped after 2,2\d\d of its 4,5\d\d bytes|broke off)"):
        download.download_mnist(server.url, tmp_path)
    assert _left_in(tmp_path) == [] and not download.is_downloaded(tmp_path)


def test_a_truncated_file_served_as_if_whole_is_not_taken(serve, altered, tmp_path):
    server = serve(altered("t10k-images-idx3-ubyte.gz", lambda content: content[: len(content) // 2]))
    with pytest.raises(DownloadError, match=r"the t10k-images-idx3-ubyte\.gz at .* is not MNIST's: cannot be read"):
        download.download_mnist(server.url, tmp_path)
    assert _left_in(tmp_path) == []


def test_a_file_of_another_content_is_not_taken_for_mnists(serve, altered, tmp_path):
    def one_label_changed(content):
        labels = bytearray(gzip.decompress(content))
        labels[8] = (labels[8] + 1) % 10
        return gzip.compress(bytes(labels))

    server = serve(altered("train-labels-idx1-ubyte.gz", one_label_changed))
    with pytest.raises(DownloadError, match=r"train-labels-idx1-ubyte\.gz at .* is not MNIST's: its content differs"):
        download.download_mnist(server.url, tmp_path)
    assert _left_in(tmp_path) == []


def test_an_address_that_is_not_one_is_refused_where_it_is_set(monkeypatch):
    monkeypatch.setenv(config.MNIST_URL_VARIABLE, "example.org/mnist/")
    with pytest.raises(SettingsError, match="DIGITCNN_MNIST_URL='example.org/mnist/' is not an http://, https:// "
                                            "or file:// address"):
        config.check_environment()
    with pytest.raises(SettingsError, match="'ftp://host/mnist/' is not an http://"):
        config.mnist_url("ftp://host/mnist/")
    monkeypatch.delenv(config.MNIST_URL_VARIABLE)
    assert config.mnist_url() == config.DEFAULT_MNIST_URL == "https://storage.googleapis.com/cvdf-datasets/mnist/"


# --- The sidebar --------------------------------------------------------------------------------------------------

def _sidebar():
    from ui import sidebar

    sidebar.render()


@pytest.fixture
def sidebar_without_mnist(monkeypatch, tmp_path):
    """The sidebar, in an app whose data folder is empty and which has no full MNIST anywhere."""
    monkeypatch.setenv(config.DATA_DIR_VARIABLE, str(tmp_path / "data"))
    monkeypatch.delenv(config.MNIST_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    test = AppTest.from_function(_sidebar, default_timeout=60).run()
    assert not test.exception
    return test


def _get_button(test):
    return next(button for button in test.sidebar.button if button.label.startswith("Get the full MNIST"))


def test_the_sidebar_downloads_the_full_mnist_which_then_is_a_source(sidebar_without_mnist, serve, mnist_dir,
                                                                     monkeypatch, tmp_path):
    server = serve(mnist_dir)
    monkeypatch.setenv(config.MNIST_URL_VARIABLE, server.url)
    test = sidebar_without_mnist
    assert _get_button(test).label == "Get the full MNIST (12 MB)"
    assert "Full MNIST (downloaded)" not in test.sidebar.selectbox[0].options
    _get_button(test).click().run()
    assert not test.exception
    assert download.shared(tmp_path / "data").wait(60)
    test.run()
    assert not test.exception
    assert "Full MNIST (downloaded)" in test.sidebar.selectbox[0].options
    assert not any(button.label.startswith("Get the full MNIST") for button in test.sidebar.button)
    test.sidebar.selectbox[0].select(str(tmp_path / "data" / "mnist")).run()
    assert not test.exception and "60,000 images + 10,000 test images" in " ".join(
        caption.value for caption in test.sidebar.caption)
    assert server.asked_for() == NAMES


def test_the_sidebar_says_why_a_download_failed_and_offers_it_again(sidebar_without_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv(config.MNIST_URL_VARIABLE, f"http://127.0.0.1:{_closed_port()}/")
    test = sidebar_without_mnist
    _get_button(test).click().run()
    assert not test.exception
    assert download.shared(tmp_path / "data").wait(60)
    test.run()
    assert not test.exception
    assert test.sidebar.error[0].value.startswith("The last try to get the full MNIST failed: " + literal(
        "cannot reach 127.0.0.1 (Connection refused): this machine has no network"))
    assert _get_button(test) is not None and _left_in(tmp_path / "data") == []
