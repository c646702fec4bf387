"""A storage password, in every spelling a URL can carry it, never appears in what nas-attn
renders: each command's output and errors, the exported arch YAML, the HTML report and the
attributes stored in the study (issue #17, class 2). Real PostgreSQL, real passwords."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import optuna
import psycopg
import pytest
from support.cli import run_cli
from support.spaces import TINY_SPACE

from nas_attn.testing.postgres_server import PostgresServer

ALICE_PASSWORD = "s3cr@hunter2"  # an '@' inside: the spelling that used to leak its second half


@pytest.fixture
def urls(postgres_server: PostgresServer, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """Working URLs by spelling (one study 'tiny' with three trials behind them), and secrets."""
    admin = postgres_server.create_database()
    database = admin.rsplit("/", 1)[1]
    dsn = (
        f"host={postgres_server.host} port={postgres_server.port} user={postgres_server.user} "
        f"password={postgres_server.password} dbname=postgres"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS alice")
        conn.execute(f"CREATE ROLE alice LOGIN PASSWORD '{ALICE_PASSWORD}'")
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO alice')
    host = f"{postgres_server.host}:{postgres_server.port}"
    encoded = quote(ALICE_PASSWORD, safe="")
    working = {
        "user-info": admin,
        "user-info, percent-encoded @": f"postgresql+psycopg://alice:{encoded}@{host}/{database}",
        "query parameter": f"postgresql+psycopg://alice@{host}/{database}?password={encoded}",
        "query parameter, plain": f"postgresql+psycopg://{postgres_server.user}@{host}/{database}"
        f"?sslmode=disable&password={postgres_server.password}",
    }
    _make_study(working["user-info, percent-encoded @"], tmp_path / "tiny.yaml")
    secrets = [postgres_server.password, ALICE_PASSWORD, encoded, "hunter2"]
    return working, secrets


def _make_study(url: str, space_file: Path) -> None:
    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, sample_arch

    space_file.write_text(TINY_SPACE)
    space = load_space(space_file)
    study = open_study(open_storage(url), "tiny", space, "random")
    for accuracy, latency in [(0.9, 2.0), (0.8, 1.0), (0.7, 3.0)]:
        trial = study.ask()
        trial.set_user_attr("arch", sample_arch(trial, space).to_dict())
        trial.set_user_attr("params", 11_200_000)
        study.tell(trial, [accuracy, latency])


def _run(args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, out, err = run_cli(args, cwd, capsys)
    assert "Traceback" not in out + err
    return code, out + err


def test_no_spelling_of_a_password_is_ever_rendered(
    urls: tuple[dict[str, str], list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import optuna_dashboard

    working, secrets = urls
    monkeypatch.setattr(optuna_dashboard, "run_server", lambda *a, **k: None)  # print the banner, return
    rendered: list[str] = []
    for i, url in enumerate(working.values()):
        commands = [
            ["search", "--space", "tiny.yaml", "--storage", url, "--n-trials", "3"],
            ["front", "--study", "tiny", "--storage", url],
            ["front", "--study", "tiny", "--storage", url, "--format", "json"],
            ["export", "--study", "tiny", "--knee", "--storage", url, "--out", f"best{i}.yaml"],
            ["report", "--study", "tiny", "--storage", url, "--out", f"report{i}.html"],
            ["dashboard", "--storage", url],
            ["reseed", "--study", "tiny", "--storage", url, "--ray-address", "127.0.0.1:1"],
            ["front", "--study", "missing", "--storage", url],
        ]
        codes = []
        for args in commands:
            code, text = _run(args, tmp_path, capsys)
            codes.append(code)
            rendered.append(text)
        assert codes == [0, 0, 0, 0, 0, 0, 1, 1], (url, rendered[-8:])
        assert "target already reached" in rendered[-8] and "***" in rendered[-8]  # the summary's URL
        exported = (tmp_path / f"best{i}.yaml").read_text()
        assert "storage: postgresql+psycopg://" in exported and "***" in exported
        rendered += [exported, (tmp_path / f"report{i}.html").read_text()]
    broken = working["user-info"].replace("postgresql+psycopg:", "postgres ql:")  # not a URL; still secret
    unencoded = working["user-info, percent-encoded @"].replace(
        quote(ALICE_PASSWORD, safe=""), ALICE_PASSWORD
    )
    for url in (unencoded, broken):
        for args in (
            ["search", "--space", "tiny.yaml", "--storage", url],
            ["front", "--study", "tiny", "--storage", url],
            ["export", "--study", "tiny", "--knee", "--storage", url, "--out", "x.yaml"],
            ["report", "--study", "tiny", "--storage", url, "--out", "x.html"],
            ["dashboard", "--storage", url],
            ["validate-proxy", "--study", "tiny", "--epochs", "9", "--storage", url],
        ):
            code, text = _run(args, tmp_path, capsys)
            assert code == 1 and "nas-attn: error: " in text, text
            rendered.append(text)
    study = optuna.load_study(study_name="tiny", storage=working["user-info"])
    system = study._storage.get_study_system_attrs(study._study_id)
    rendered.append(json.dumps([study.user_attrs, system], default=str))
    rendered += [json.dumps([t.user_attrs, t.system_attrs], default=str) for t in study.trials]
    rendered += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    everything = "\n".join(rendered)
    leaks = [s for s in secrets if s in everything]
    assert not leaks, leaks
    assert len(rendered) > 60
