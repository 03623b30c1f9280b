"""`kommunesoeg search / ask / precedents / timeline` through the real click group."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kommunesoeg.cli import cli

pytest_plugins = ["fixtures_index"]

HIT_FIELDS = {
    "rank", "score", "text", "document", "meeting", "committee", "date", "punkt",
    "punkt_title", "bilag", "bilag_title", "page_start", "page_end", "section", "closed",
    "chunk_id", "also_in",
}


def _run(index, *args: str):
    result = CliRunner().invoke(cli, [*args, "--index", str(index)])
    return result


def test_search_json_has_hit_fields(sample_index) -> None:
    result = _run(sample_index, "search", "overgangsfinansiering Opgang til Opgang", "--json",
                  "--k", "3")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 3
    assert HIT_FIELDS <= set(hits[0])
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert any(h["punkt"] == 4 and "Opgang" in h["punkt_title"] for h in hits)


def test_search_human_output_and_filters(sample_index) -> None:
    result = _run(sample_index, "search", "klimamad", "--committee", "MBU", "--decisions-only",
                  "--k", "2")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(" 1. MBU")
    assert "[GODKENDT]" in result.output
    assert "MSB" not in result.output.split("\n")[0]


def test_public_search_hides_closed_item_internal_finds_it(sample_index) -> None:
    public = json.loads(_run(sample_index, "search", "Pasningsgaranti FAQ Aarhus.dk", "--json",
                             "--k", "50").output)
    assert all(not h["closed"] for h in public)
    internal = json.loads(_run(sample_index, "search", "Pasningsgaranti FAQ Aarhus.dk", "--json",
                               "--k", "50", "--role", "internal").output)
    assert any(h["closed"] and h["punkt"] == 10 for h in internal)


def test_ask_json(sample_index) -> None:
    result = _run(sample_index, "ask", "Hvad blev besluttet om Opgang til Opgang?", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert {"answer", "citations", "insufficient_evidence"} <= set(answer)
    assert answer["insufficient_evidence"] is False
    assert "overgangsfinansiering" in answer["answer"]
    assert HIT_FIELDS <= set(answer["citations"][0])


def test_ask_human_prints_answer_and_sources(sample_index) -> None:
    result = _run(sample_index, "ask", "Hvad blev besluttet om Opgang til Opgang?")
    assert result.exit_code == 0, result.output
    assert "[1]" in result.output and "Kilder:" in result.output
    assert "  [1] MSB Rådmandsmøde 23.03.2023 · Punkt 4" in result.output


def test_ask_unanswerable(sample_index) -> None:
    result = _run(sample_index, "ask", "Hvad koster SFO-madordningen pr. måned i 2023?", "--json")
    answer = json.loads(result.output)
    assert answer["insufficient_evidence"] is True
    assert answer["answer"] == (
        "Jeg fandt ikke et sikkert svar i dokumenterne. "
        "Lukkede dagsordenspunkter kan ikke søges af offentligheden."
    )


def test_bad_date_names_the_option(sample_index) -> None:
    result = _run(sample_index, "search", "budget", "--from", "2023-13-45")
    assert result.exit_code != 0
    assert "--from" in result.output and "ÅÅÅÅ-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_unknown_committee_is_one_line_error(sample_index) -> None:
    result = _run(sample_index, "search", "budget", "--committee", "XYZ")
    assert result.exit_code != 0
    assert "committee" in result.output and "XYZ" in result.output
    assert "Traceback" not in result.output


def test_precedents_text_and_file(sample_index, tmp_path) -> None:
    case = ("Et boligsocialt projekt for sårbare børnefamilier mangler finansiering; der søges "
            "overgangsfinansiering fra de øvrige magistratsafdelinger.")
    result = _run(sample_index, "precedents", "--text", case, "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 3
    assert {"outcome", "decision_text", "followups", "date", "committee", "citation"} <= set(rows[0])
    case_file = tmp_path / "sag.txt"
    case_file.write_text(case, encoding="utf-8")
    human = _run(sample_index, "precedents", "--file", str(case_file), "--k", "3")
    assert human.exit_code == 0, human.output
    assert "Opgang til Opgang" in human.output and "[GODKENDT]" in human.output
    both = _run(sample_index, "precedents", "--text", case, "--file", str(case_file))
    assert both.exit_code != 0 and "--file" in both.output


def test_timeline_json(sample_index) -> None:
    result = _run(sample_index, "timeline", "Opgang til Opgang", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries and any(e["punkt"] == 4 and e["outcome"] == "godkendt" for e in entries)
    assert [e["date"] for e in entries] == sorted(e["date"] for e in entries)


def test_missing_index_is_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["search", "budget", "--index", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "indeks" in result.output.lower()
