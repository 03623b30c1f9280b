"""Every ranking weight, threshold and pool size in one frozen object.

Tuning numbers used to live in eight modules; an evaluation could not say which numbers
produced it, nor vary them. Now `RetrievalConfig()` holds the defaults (the values tuned
with `kommunesoeg eval` on the dev and extra questions), a TOML file can override any of
them (`--config-file`, `KOMMUNESOEG_CONFIG`), and `to_dict()` is recorded next to every
evaluation result.

A TOML file names the group, then the field; unknown groups or fields are an error that
names them, so a typo never silently leaves a default in place:

    [search]
    decision_prior = 0.4
    [search.weights]
    bm25 = 0.4
    [answer]
    pool = 10
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from kommunesoeg.core.errors import InvalidSetting

CONFIG_ENV = "KOMMUNESOEG_CONFIG"
FUSIONS = ("zscore", "rrf")
MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class FusionWeights:
    """Weight of each retriever's scores in the fused ranking."""

    windows: float = 1.0  # dense, query against ~3-sentence windows (small-to-big)
    chunks: float = 0.3  # dense, query against the whole chunk
    bm25: float = 0.3  # lexical, Danish stemming + OCR folding


@dataclass(frozen=True)
class SearchConfig:
    """How the three retrievers are fused into one ranking."""

    fusion: str = "zscore"  # or "rrf" (weighted reciprocal rank fusion)
    rrf_k: int = 60
    weights: FusionWeights = field(default_factory=FusionWeights)
    candidates: int = 200  # per retriever; the fused pool is their union
    # "Hvad blev besluttet om X?" is answered by the decision, not by the indstilling that
    # proposed it, though both share every topic word: a prior on decision passages, in
    # standard deviations of the fused score (z-score fusion only).
    decision_prior: float = 0.5
    max_query_chars: int = 2000

    def weights_for(self, mode: str) -> FusionWeights:
        """The weights of a ranking mode: hybrid uses all three, the others one kind."""
        if mode == "dense":
            return replace(self.weights, bm25=0.0)
        if mode == "bm25":
            return FusionWeights(windows=0.0, chunks=0.0, bm25=1.0)
        return self.weights


@dataclass(frozen=True)
class AnswerConfig:
    """Extractive answers: how many passages are read, how many sentences quoted, and when
    the evidence is too weak to answer (calibration notes in retriever/answer.py)."""

    max_sentences: int = 4
    pool: int = 8  # passages read for candidate sentences (only cited ones are returned)
    type_margin: float = 0.07  # 0.05 loses x16, 0.08 keeps x44 (dev + extra questions)
    # runners-up quoted after the best unit (all from its agenda item): within this much of
    # its score when they stand within two units of it in the same passage, else the other
    # margin. 0.04/0.015 quoted one sentence where the fact was often the second best;
    # 0.12/0.05 answers 7 more of 119 tuning questions (0.20/0.08: none more, longer).
    neighbour_margin: float = 0.12
    runner_up_margin: float = 0.05
    gate_window_min_da: float = 0.845
    gate_window_min_en: float = 0.80
    gate_absent_max: float = 0.65
    gate_coverage_floor: float = 0.5
    # sentence-level meaning: the best `rerank` units by window score are embedded
    rerank: int = 5
    # a decision card needs a decision this close in meaning, and either the item of the
    # best quoted unit, a title the question names, or this lead over the next decision
    # (see retriever/decision_card.py and answer.py `_card_fits`)
    decision_min_cosine: float = 0.8
    decision_clear_margin: float = 0.2
    # when the decision holds less than this share of the question's rare words, the best
    # unit of the same item's other passages is quoted with it
    decision_supplement_below: float = 0.3


@dataclass(frozen=True)
class PrecedentConfig:
    """Precedents: how a pasted case is embedded and how items are ranked."""

    window_chars: int = 1200  # ~300 tokens of Danish: well inside the model's 512
    max_windows: int = 12
    pool: int = 200  # passages considered per view
    weight_hybrid: float = 1.0
    weight_whole: float = 1.0
    # the parts of an item that describe a case best
    section_weights: tuple[tuple[str, float], ...] = (
        ("indstilling", 1.15),
        ("beslutning", 1.1),
        ("resume", 1.1),
    )

    def section_weight(self, section: str) -> float:
        return dict(self.section_weights).get(section, 1.0)


@dataclass(frozen=True)
class TimelineConfig:
    """Which decisions count as being about a topic."""

    min_cosine: float = 0.85
    min_coverage: float = 0.6
    search_depth: int = 30  # top passages whose items count as "about the topic"


@dataclass(frozen=True)
class RetrievalConfig:
    search: SearchConfig = field(default_factory=SearchConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    precedents: PrecedentConfig = field(default_factory=PrecedentConfig)
    timeline: TimelineConfig = field(default_factory=TimelineConfig)

    def __post_init__(self) -> None:
        if self.search.fusion not in FUSIONS:
            raise InvalidSetting(
                f"search.fusion: ukendt metode '{self.search.fusion}' "
                f"(tilladt: {', '.join(FUSIONS)})"
            )

    def to_dict(self) -> dict[str, Any]:
        """The configuration in the shape of a TOML file: `from_dict(to_dict())` is equal to
        it, so a recorded evaluation can be run again with exactly its numbers."""
        return _tables(asdict(self), RetrievalConfig())

    def flat(self) -> dict[str, Any]:
        """Every setting under its dotted TOML key (`search.weights.bm25`), for listing what
        a configuration changes against the defaults."""
        return _flatten(self.to_dict(), "")

    def changes(self) -> dict[str, Any]:
        """The settings that differ from the defaults, by dotted key (None: a section weight
        the file left out of its table, so that section weighs 1.0)."""
        defaults, mine = RetrievalConfig().flat(), self.flat()
        return {
            key: mine.get(key)
            for key in [*mine, *(k for k in defaults if k not in mine)]
            if defaults.get(key) != mine.get(key)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "konfiguration") -> RetrievalConfig:
        return _build(cls, data, source, "")

    @classmethod
    def from_file(cls, path: Path | str) -> RetrievalConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidSetting(f"{path}: kan ikke læses ({exc.strerror or exc})") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidSetting(f"{path}: ugyldig TOML ({exc})") from exc
        return cls.from_dict(data, source=str(path))


def load_config(path: Path | str | None = None) -> RetrievalConfig:
    """The configuration from `path`, else from $KOMMUNESOEG_CONFIG, else the defaults."""
    path = path or os.environ.get(CONFIG_ENV) or None
    return RetrievalConfig.from_file(path) if path else RetrievalConfig()


def _tables(data: dict[str, Any], defaults: Any) -> dict[str, Any]:
    """`asdict` output with (name, weight) pairs written as tables, as a TOML file has them."""
    shaped: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            shaped[name] = _tables(value, default)
        elif isinstance(default, tuple):
            shaped[name] = dict(value)
        else:
            shaped[name] = value
    return shaped


def _flatten(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[prefix + name] = value
    return flat


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    """A (nested) frozen dataclass from a TOML table; unknown keys and wrong types are errors."""
    if not isinstance(data, dict):
        raise InvalidSetting(f"{source}: {prefix.rstrip('.') or 'roden'} skal være en tabel")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        names = ", ".join(prefix + u for u in unknown)
        raise InvalidSetting(
            f"{source}: ukendt indstilling {names} (kendte: {', '.join(prefix + k for k in known)})"
        )
    values: dict[str, Any] = {}
    defaults = cls()
    for name, value in data.items():
        default = getattr(defaults, name)
        key = prefix + name
        if is_dataclass(default):
            values[name] = _build(type(default), value, source, key + ".")
        elif isinstance(default, tuple):
            if not isinstance(value, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
            ):
                raise InvalidSetting(f"{source}: {key} skal være en tabel af tal")
            values[name] = tuple((k, float(v)) for k, v in value.items())
        else:
            values[name] = _coerce(default, value, source, key)
    try:
        return cls(**values)
    except InvalidSetting as exc:  # a value checked across fields, e.g. search.fusion
        raise InvalidSetting(f"{source}: {exc}") from None


def _coerce(default: Any, value: Any, source: str, key: str) -> Any:
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise InvalidSetting(
            f"{source}: {key} skal være {type(default).__name__}, ikke {value!r}"
        )
    return value
