"""``python -m digitcnn``: train, evaluate, predict, list models, export CSVs, download the full MNIST, keep
drawings and fine-tune a model on them, from a terminal.

Errors a user can cause print one line, ``error: …``, and exit with status 1; a ``DIGITCNN_*`` variable or a
models folder the command cannot start with, before any work, with status 2 (as argparse's own errors). No command
prints TensorFlow's start-up lines (:mod:`digitcnn.native_logs`), and those that need no network (``predict``,
``models``, every ``--help``, the drawings and data commands) never import TensorFlow.

Its modules: :mod:`~digitcnn.cli.parser` (every command, its options and their help),
:mod:`~digitcnn.cli.model_commands` (those that train or score a network), :mod:`~digitcnn.cli.reading_commands`
(``predict``, ``models``), :mod:`~digitcnn.cli.data_commands` (``export-csv``, ``download-mnist``, ``drawings``),
:mod:`~digitcnn.cli.model_file_commands` (``export``, ``import``: a saved model taken anywhere, a model made
elsewhere brought in), :mod:`~digitcnn.cli.typed`
(paths as the user typed them) and :mod:`~digitcnn.cli.output` (progress lines, tables,
reports, exit statuses).
"""

from __future__ import annotations

import os
import sys

from digitcnn import config, native_logs
from digitcnn.cli.output import EXIT_CANNOT_START, EXIT_INTERRUPTED, EXIT_USER_ERROR
from digitcnn.cli.parser import build_parser
from digitcnn.errors import DigitCNNError, SettingsError, not_found

__all__ = ["main", "EXIT_USER_ERROR", "EXIT_CANNOT_START", "EXIT_INTERRUPTED"]


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    native_logs.quiet_tensorflow()  # before any command can import TensorFlow
    arguments = build_parser().parse_args(argv)
    try:
        config.check_environment()
        if getattr(arguments, "reads_models", False):
            _check_models_folder(arguments.models_dir)
    except DigitCNNError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        return arguments.command(arguments)
    except DigitCNNError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED


def _check_models_folder(models_dir: str | None) -> None:
    """Raise :class:`SettingsError` unless the models folder a command reads from is a folder: read as one, a
    missing folder said "default.json: no model card" and a file "no saved models"."""
    folder = config.models_dir(models_dir)
    advice = f"give --models-dir a folder of saved models, or set {config.MODELS_DIR_VARIABLE} to one"
    if not folder.exists():  # named as typed: the option, else the variable; the project's own, by its name
        typed = models_dir or os.environ.get(config.MODELS_DIR_VARIABLE) or folder.name
        raise SettingsError(not_found("models folder", str(typed), advice))
    if not folder.is_dir():
        raise SettingsError(f"the models folder '{folder.name}' is not a folder: {advice}")
