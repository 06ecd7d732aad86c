"""`predict --dask` and `tag_partition` on a real two-worker Dask cluster on loopback."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import CORPUS, SHIPPED

import distributed  # the [dask] extra, which `make test` installs


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def big_jsonl(tmp_path_factory):
    """300 corpus articles, with a blank line and a broken line part-way, so that
    global line numbers past the first chunk are checked."""
    lines = (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    lines[150:150] = ["", "[1, 2]"]
    path = tmp_path_factory.mktemp("dask") / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_output(big_jsonl, tmp_path_factory):
    from typer.testing import CliRunner

    from newstag.cli import app

    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    r = CliRunner().invoke(app, ["predict", str(big_jsonl), "--out", str(out)])
    assert r.exit_code == 1  # the broken line
    return out.read_text(encoding="utf-8")


def test_dask_output_is_identical_to_local(cli, cluster, big_jsonl, local_output, tmp_path):
    out = tmp_path / "dask.jsonl"
    r = cli("predict", big_jsonl, "--out", out, "--dask", cluster.scheduler_address)
    assert r.exit_code == 1, r.stderr
    assert out.read_text(encoding="utf-8") == local_output
    recs = [json.loads(x) for x in local_output.splitlines()]
    assert len(recs) == 301
    assert recs[150]["source"] == f"{big_jsonl}:152" and "error" in recs[150]
    assert recs[-1]["source"] == f"{big_jsonl}:302"


def test_tag_partition_on_a_bag_keeps_global_line_numbers(cluster, big_jsonl, local_output):
    import dask.bag as db

    from newstag.model.pipeline import tag_partition

    with open(big_jsonl, encoding="utf-8") as fh:
        bag = db.from_sequence(list(enumerate(fh, 1)), npartitions=4)
    with distributed.Client(cluster) as client:
        got = bag.map_partitions(tag_partition, model=str(SHIPPED), name=str(big_jsonl)).compute(scheduler=client)
    assert got == [json.loads(x) for x in local_output.splitlines()]


def test_unreachable_scheduler_is_a_one_line_error(cli, big_jsonl):
    # port 9 on loopback: nothing listens there
    r = cli("predict", big_jsonl, "--dask", "tcp://127.0.0.1:9")
    assert r.exit_code == 2
    assert r.stderr.startswith("newstag: error: cannot connect to the Dask scheduler at tcp://127.0.0.1:9")
    assert "Traceback" not in r.stderr and r.stdout == ""
    r = cli("predict", big_jsonl, "--dask", "scheduler-without-port")
    assert r.exit_code == 2 and "not a scheduler address" in r.stderr


def test_plain_predict_does_not_import_dask(tmp_path):
    code = ("import sys; from typer.testing import CliRunner; from newstag.cli import app; "
            f"r = CliRunner().invoke(app, ['predict', *{[str(p) for p in sorted((CORPUS / 'dev').glob('*.txt'))[:3]]!r}, "
            "'--quiet', '--out', "
            f"{str(tmp_path / 'o.jsonl')!r}]); "
            "print(r.exit_code, any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["0", "False"], out.stderr
