"""Shared fixtures: real data from ../shared and models trained on it once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSTAG_SHARED", ROOT.parent / "shared")).resolve()
CORPUS = SHARED / "corpus"
SEED = SHARED / "seeds" / "000_69f682ce4369dada.txt"
SHIPPED = ROOT / "artifacts" / "model.joblib"

if not CORPUS.is_dir():
    raise RuntimeError(f"tests need the shared corpus at {CORPUS} (set NEWSTAG_SHARED)")


def restore_sigint() -> None:
    """``preexec_fn`` for processes a test will Ctrl-C: a shell without job
    control (``cmd &``, some CI runners) starts children with SIGINT ignored,
    and Python then never raises KeyboardInterrupt; a terminal's Ctrl-C would."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def cli(runner):
    """Run ``newstag ARGS...`` in-process; returns the click Result (stdout, stderr, exit_code)."""
    from newstag.cli import app

    def run(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def train_only_model(tmp_path_factory):
    """A model trained on corpus/train (the issue's evaluation setting), built once."""
    from newstag.training import TrainSettings, train

    out = tmp_path_factory.mktemp("models") / "train.joblib"
    train([CORPUS / "train"], out, TrainSettings())
    return out


@pytest.fixture(scope="session")
def seeds_model(tmp_path_factory):
    """A model trained on the starter seeds in seeds/ (small and fast)."""
    from newstag.training import TrainSettings, train

    out = tmp_path_factory.mktemp("models") / "seeds.joblib"
    train([ROOT / "seeds"], out, TrainSettings())
    return out
