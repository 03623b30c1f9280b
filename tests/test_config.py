"""The retrieval configuration: defaults, the TOML loader, --config-file on the CLI, and
`kommunesoeg eval` comparing two configuration files side by side."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from kommunesoeg.cli import cli
from kommunesoeg.core.config import (
    CONFIG_ENV,
    FusionWeights,
    RetrievalConfig,
    load_config,
)
from kommunesoeg.core.errors import InvalidSetting

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "dev-questions.jsonl"


def _toml(tmp_path: Path, text: str, name: str = "tuning.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and loader ------------------------------------------------------------------


def test_defaults_are_the_tuned_numbers() -> None:
    config = RetrievalConfig()
    assert config.search.fusion == "zscore" and config.search.rrf_k == 60
    assert config.search.weights == FusionWeights(windows=1.0, chunks=0.3, bm25=0.3)
    assert config.search.candidates == 200 and config.search.decision_prior == 0.5
    assert config.search.max_query_chars == 2000
    assert (config.answer.max_sentences, config.answer.pool, config.answer.type_margin) == (
        4, 8, 0.07,
    )
    assert (config.answer.gate_window_min_da, config.answer.gate_window_min_en) == (0.845, 0.80)
    assert (config.answer.gate_absent_max, config.answer.gate_coverage_floor) == (0.65, 0.5)
    assert config.answer.rerank == 5
    assert (config.answer.decision_min_cosine, config.answer.decision_clear_margin) == (0.8, 0.2)
    assert config.answer.decision_supplement_below == 0.3
    assert (config.precedents.window_chars, config.precedents.max_windows) == (1200, 12)
    assert config.precedents.pool == 200
    assert config.precedents.section_weight("indstilling") == 1.15
    assert config.precedents.section_weight("beslutning") == 1.1
    assert config.precedents.section_weight("bilag") == 1.0
    assert (config.timeline.min_cosine, config.timeline.min_coverage) == (0.85, 0.6)
    assert config.timeline.search_depth == 30


def test_mode_weights_follow_the_configured_weights() -> None:
    search = RetrievalConfig().search
    assert search.weights_for("hybrid") == search.weights
    assert search.weights_for("dense") == FusionWeights(windows=1.0, chunks=0.3, bm25=0.0)
    assert search.weights_for("bm25") == FusionWeights(windows=0.0, chunks=0.0, bm25=1.0)


def test_no_file_and_no_environment_gives_the_defaults(monkeypatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert load_config() == RetrievalConfig()


def test_an_override_changes_exactly_that_field(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[search.weights]\nbm25 = 0.4\n[answer]\npool = 10\n")
    config = load_config(path)
    default = RetrievalConfig()
    assert config == replace(
        default,
        search=replace(default.search, weights=replace(default.search.weights, bm25=0.4)),
        answer=replace(default.answer, pool=10),
    )
    assert config.changes() == {"search.weights.bm25": 0.4, "answer.pool": 10}


def test_an_integer_is_accepted_for_a_float(tmp_path: Path) -> None:
    config = load_config(_toml(tmp_path, "[search]\ndecision_prior = 1\n"))
    assert config.search.decision_prior == 1.0 and isinstance(config.search.decision_prior, float)


def test_environment_names_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(_toml(tmp_path, "[timeline]\nsearch_depth = 40\n")))
    assert load_config().timeline.search_depth == 40


def test_recorded_dict_is_a_config_file_again() -> None:
    tuned = RetrievalConfig.from_dict(
        {"search": {"weights": {"chunks": 0.5}}, "precedents": {"section_weights": {"resume": 2}}}
    )
    recorded = json.loads(json.dumps(tuned.to_dict()))
    assert RetrievalConfig.from_dict(recorded) == tuned
    assert RetrievalConfig.from_dict(RetrievalConfig().to_dict()) == RetrievalConfig()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[search.weigths]\nbm25 = 0.4\n", "search.weigths"),
        ("[search]\ndecision_priors = 0.4\n", "search.decision_priors"),
        ("[ranking]\nk = 1\n", "ranking"),
        ('[answer]\npool = "ti"\n', "answer.pool"),
        ("[answer]\npool = 2.5\n", "answer.pool"),
        ("[answer]\npool = true\n", "answer.pool"),
        ('[search.weights]\nbm25 = "høj"\n', "search.weights.bm25"),
        ("[search]\nweights = 3\n", "search.weights"),
        ('[precedents.section_weights]\nresume = "x"\n', "precedents.section_weights"),
        ('[search]\nfusion = "borda"\n', "search.fusion"),
    ],
)
def test_bad_setting_names_the_key_and_file(tmp_path: Path, text: str, named: str) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(InvalidSetting, match=named.replace(".", r"\.")) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_bad_toml_and_missing_file_name_the_file(tmp_path: Path) -> None:
    broken = _toml(tmp_path, "[search\nbm25 = \n")
    with pytest.raises(InvalidSetting, match="ugyldig TOML") as caught:
        load_config(broken)
    assert str(broken) in str(caught.value)
    with pytest.raises(InvalidSetting, match="kan ikke læses"):
        load_config(tmp_path / "none.toml")


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["search", "klimamad"],
    ["ask", "Hvad blev besluttet om klimamad?"],
    ["precedents", "--text", "Skolerne ønsker klimavenlig mad"],
    ["timeline", "klimamad"],
])
def test_cli_bad_config_file_is_one_line(tmp_path: Path, command: list[str]) -> None:
    bad = _toml(tmp_path, "[search.weigths]\nbm25 = 0.4\n", "bad.toml")
    result = CliRunner().invoke(
        cli, [*command, "--config-file", str(bad), "--index", str(tmp_path / "none")]
    )
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "search.weigths" in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in result.output


def test_cli_reads_the_config_file_from_the_environment(tmp_path: Path) -> None:
    bad = _toml(tmp_path, "not toml at all", "env.toml")
    result = CliRunner().invoke(
        cli, ["search", "klimamad", "--index", str(tmp_path / "none")], env={CONFIG_ENV: str(bad)}
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and "ugyldig TOML" in result.output


def test_eval_bad_config_file_is_one_line(tmp_path: Path) -> None:
    bad = _toml(tmp_path, '[answer]\npool = "ti"\n', "bad.toml")
    result = CliRunner().invoke(
        cli, ["eval", "--config-file", str(bad), "--index", str(tmp_path / "none")]
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and "answer.pool" in result.output


@pytest.mark.slow
def test_search_with_a_config_file_changes_the_ranking(sample_index: Path, tmp_path: Path) -> None:
    query = ["search", "Hvad blev besluttet om Opgang til Opgang?", "--json",
             "--index", str(sample_index)]
    default = CliRunner().invoke(cli, query)
    same = _toml(tmp_path, "[search.weights]\nbm25 = 0.3\n", "same.toml")
    lexical = _toml(tmp_path, "[search.weights]\nwindows = 0.0\nchunks = 0.0\n", "lexical.toml")
    with_same = CliRunner().invoke(cli, [*query, "--config-file", str(same)])
    with_lexical = CliRunner().invoke(cli, [*query, "--config-file", str(lexical)])
    assert default.exit_code == with_same.exit_code == with_lexical.exit_code == 0
    scores = [[(h["chunk_id"], h["score"]) for h in json.loads(r.stdout)]
              for r in (default, with_same, with_lexical)]
    assert scores[0] == scores[1]
    assert scores[0] != scores[2]


# --- eval compares configuration files ---------------------------------------------------


@pytest.mark.slow
def test_eval_compares_two_config_files(sample_index: Path, tmp_path: Path) -> None:
    same = _toml(tmp_path, "[search.weights]\nbm25 = 0.3\n", "a.toml")  # = the defaults
    heavier = _toml(tmp_path, "[search.weights]\nbm25 = 0.9\n", "b.toml")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "eval", "--questions", str(DEV), "--config", "hybrid",
        "--config-file", str(same), "--config-file", str(heavier),
        "--index", str(sample_index), "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {c["name"]: c for c in doc["configs"]}
    assert list(rows) == ["hybrid", "a", "b"]
    assert rows["hybrid"]["config_file"] is None and rows["a"]["config_file"] == str(same)
    assert {c["ranking"] for c in doc["configs"]} == {"hybrid"}
    assert rows["hybrid"]["retrieval_config"] == RetrievalConfig().to_dict()
    assert rows["a"]["retrieval_config"] == RetrievalConfig().to_dict()
    assert rows["b"]["retrieval_config"]["search"]["weights"]["bm25"] == 0.9
    assert rows["b"]["config_changes"] == {"search.weights.bm25": 0.9}
    assert rows["a"]["config_changes"] == {} == rows["hybrid"]["config_changes"]
    # a file equal to the defaults ranks exactly as the built-in hybrid row
    assert rows["a"]["metrics"] == rows["hybrid"]["metrics"]
    assert rows["a"]["per_type"] == rows["hybrid"]["per_type"]
    report = (out / "latest.md").read_text(encoding="utf-8")
    assert "## Konfiguration" in report
    assert f"| b | hybrid | `{heavier}` | search.weights.bm25 = 0.9 |" in report
    assert "| hybrid | hybrid | standard | – |" in report
    defaults = report.split("```toml\n", 1)[1].split("\n```", 1)[0]
    assert RetrievalConfig.from_dict(tomllib.loads(defaults)) == RetrievalConfig()
