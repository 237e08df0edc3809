"""The one spec grammar: what index a string names (``indexers.factory`` builds and reads it).

A spec is comma-separated components, structure first and search parameters (``name=value``) last:

- real-valued codes: a faiss ``index_factory`` string, with or without the ``IDMap2,`` prefix (``Flat``,
  ``SQfp16``, ``IVF1024,Flat``, ``IVF1024,PQ16``); canonical form keeps ``IDMap2,``. Parameter ``nprobe``
  (IVF only: inverted lists visited per query).
- binary codes: ``BFlat`` (exact), ``BHash<b>`` (one table on bits ``0 .. b-1``), ``BHash<m>x<b>`` (alias
  ``BMultiHash<m>x<b>``: ``m`` tables on consecutive ``b``-bit slices); an ``IDMap,``/``IDMap2,`` prefix is
  accepted and dropped. Parameter ``nflip`` (hash only: bits a candidate's key may differ in, per table).
- two-stage codes: ``TwoStage<short_bits>``, parameter ``radius``; ``two-stage`` (what old manifests say)
  names a saved two-stage index whose short-code width is in the file.
- shards: a leading ``Shards<N>`` before a real-valued or binary spec: ``Shards4,BHash2x32,nflip=1``.

A parameter a spec leaves out keeps its default when building and the saved value when loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import NoReturn

from .errors import InvalidParameterError

DEFAULT_FLOAT_SPEC = "IDMap2,Flat"
DEFAULT_BINARY_SPEC = "BFlat"
LEGACY_TWO_STAGE = "two-stage"
FLOAT_METRICS = ("cosine", "l2")
METRICS = (*FLOAT_METRICS, "hamming")
MAX_HASH_BITS = 64  # faiss hashes at most one 64-bit word per table

_BINARY = re.compile(r"(?:IDMap2?,)?(?:(?P<flat>BFlat)|BHash(?P<b1>\d+)|B(?:Multi)?Hash(?P<m>\d+)x(?P<b>\d+))")
_TWO_STAGE = re.compile(r"TwoStage(\d+)")
_SHARDS = re.compile(r"Shards(\d+)")
_PARAM = re.compile(r"([a-z_]+)=(\d+)")
_FORMS = (
    "a faiss index_factory string for real-valued codes ('IDMap2,Flat', 'IVF1024,PQ16'), 'BFlat', 'BHash<b>' or "
    "'BHash<m>x<b>' for binary codes, 'TwoStage<short_bits>' for two-stage codes, optionally after 'Shards<N>,' "
    "and followed by parameters such as 'nprobe=8', 'nflip=1', 'radius=2'"
)


@dataclass(frozen=True)
class Spec:
    """A parsed spec. ``kind``: ``float``, ``bflat``, ``bhash`` or ``two-stage``; ``structure``: the canonical
    spec of one index without parameters; ``shards``: ``None`` unless a ``Shards<N>`` spec."""

    kind: str
    structure: str
    params: tuple[tuple[str, int], ...] = ()
    shards: int | None = None
    tables: int = 0  # bhash: hash tables
    table_bits: int = 0  # bhash: bits hashed per table
    short_bits: int | None = None  # two-stage: short-code width (None: the legacy 'two-stage', read from the file)

    @property
    def text(self) -> str:
        """The canonical spec string."""
        head = f"Shards{self.shards}," if self.shards is not None else ""
        return head + format_spec(self.structure, dict(self.params))

    @property
    def one(self) -> Spec:
        """The spec of one shard (the spec itself when unsharded)."""
        return replace(self, shards=None)

    @property
    def binary(self) -> bool:
        """Whether it indexes packed binary codes (Hamming metric)."""
        return self.kind != "float"

    @property
    def is_ivf(self) -> bool:
        """Whether it is an inverted-file index of real-valued codes (built without the ``IDMap2`` wrapper)."""
        return self.kind == "float" and self.structure.split(",")[1].startswith("IVF")

    def param(self, name: str) -> int | None:
        """The value the spec gives parameter ``name``, or ``None``."""
        return dict(self.params).get(name)


def format_spec(structure: str, params: dict[str, int]) -> str:
    """``structure`` followed by ``name=value`` components (the canonical way to write parameters)."""
    return ",".join([structure, *(f"{name}={value}" for name, value in sorted(params.items()))])


def parse_spec(spec: str) -> Spec:
    """Parse ``spec`` (see the module docstring); ``InvalidParameterError`` naming what is wrong."""
    if not isinstance(spec, str) or not spec.strip():
        _fail(spec)
    parts = [p.strip() for p in spec.split(",")]
    if not all(parts):
        _fail(spec, "comma-separated components, none of them empty")
    first_param = next((i for i, p in enumerate(parts) if "=" in p), len(parts))
    structural, param_parts = parts[:first_param], parts[first_param:]
    if any("=" not in p for p in param_parts):
        _fail(spec, "the index structure followed by its parameters (name=value)")
    shards = None
    if structural and (m := _SHARDS.fullmatch(structural[0])):
        shards, structural = int(m[1]), structural[1:]
        if shards < 1:
            _fail(spec, "'Shards<N>,<spec>' with N >= 1")
    if not structural:
        _fail(spec, "an index structure followed by parameters, not parameters alone")
    parsed = _structure(",".join(structural), spec)
    if shards is not None and parsed.kind == "two-stage":
        _fail(spec, "unsharded for two-stage codes (no 'Shards<N>,' before 'TwoStage')")
    return replace(parsed, shards=shards, params=_params(param_parts, parsed, spec))


def _structure(body: str, spec: str) -> Spec:
    if body == LEGACY_TWO_STAGE:
        return Spec("two-stage", LEGACY_TWO_STAGE)
    if m := _TWO_STAGE.fullmatch(body):
        short = int(m[1])
        if not 8 <= short <= MAX_HASH_BITS or short % 8:
            _fail(spec, f"'TwoStage<short_bits>' with short_bits a multiple of 8 from 8 to {MAX_HASH_BITS}")
        return Spec("two-stage", f"TwoStage{short}", short_bits=short)
    if m := _BINARY.fullmatch(body):
        if m["flat"]:
            return Spec("bflat", "BFlat")
        tables, bits = (1, int(m["b1"])) if m["b1"] else (int(m["m"]), int(m["b"]))
        if not 1 <= bits <= MAX_HASH_BITS or tables < 1:
            _fail(spec, f"'BHash<b>' or 'BHash<m>x<b>' with 1 <= b <= {MAX_HASH_BITS} and m >= 1")
        structure = f"BHash{bits}" if tables == 1 else f"BHash{tables}x{bits}"
        return Spec("bhash", structure, tables=tables, table_bits=bits)
    components = body.split(",")
    head = components[1] if components[0] == "IDMap2" and len(components) > 1 else components[0]
    if components[0] == "IDMap" or components == ["IDMap2"]:
        _fail(spec, "a real-valued faiss spec under 'IDMap2,' (stable keys) or with no prefix")
    if re.match(r"B[A-Z]", head) or head.startswith(("TwoStage", "Shards")):
        _fail(spec, "'BFlat', 'BHash<b>' or 'BHash<m>x<b>' for binary codes ('Shards<N>,' first, if at all)")
    return Spec("float", body if components[0] == "IDMap2" else f"IDMap2,{body}")


def _params(parts: list[str], parsed: Spec, spec: str) -> tuple[tuple[str, int], ...]:
    allowed = {"float": ("nprobe",) if parsed.is_ivf else (), "bhash": ("nflip",), "two-stage": ("radius",)}
    params: dict[str, int] = {}
    for part in parts:
        m = _PARAM.fullmatch(part)
        if m is None:
            _fail(spec, "a spec whose parameters are name=<non-negative integer>")
        name, value = m[1], int(m[2])
        if name not in ("nprobe", "nflip", "radius"):
            _fail(spec, "a spec whose parameters are among nprobe, nflip and radius")
        if name not in allowed.get(parsed.kind, ()):
            where = {"nprobe": "an IVF spec", "nflip": "a BHash spec", "radius": "a TwoStage spec"}[name]
            _fail(spec, f"{where} to take the {name!r} parameter")
        if name in params:
            _fail(spec, f"a spec giving {name!r} once")
        top = {"nflip": parsed.table_bits, "radius": parsed.short_bits}.get(name)
        if (name == "nprobe" and value < 1) or (top is not None and value > top):
            _fail(spec, f"a spec with {name} >= 1" if name == "nprobe" else f"a spec with {name} in [0, {top}]")
        params[name] = value
    return tuple(sorted(params.items()))


def check_metric(metric: object) -> str:
    """``metric`` if it is one this package indexes."""
    if metric not in METRICS:
        raise InvalidParameterError(f"The 'metric' parameter must be one of {METRICS}. Got {metric!r} instead.")
    return str(metric)


def check_family(parsed: Spec, metric: str, spec: str) -> None:
    """Refuse a binary spec for real-valued codes and the reverse."""
    if parsed.binary and metric != "hamming":
        raise InvalidParameterError(
            f"The 'spec' parameter for {metric} codes must be a real-valued faiss spec such as 'IDMap2,Flat' "
            f"or 'IDMap2,IVF1024,Flat'. Got {spec!r} instead (a spec for binary codes)."
        )
    if not parsed.binary and metric == "hamming":
        raise InvalidParameterError(
            "The 'spec' parameter for binary codes must be 'BFlat', 'BHash<b>', 'BHash<m>x<b>' or "
            f"'TwoStage<short_bits>'. Got {spec!r} instead (a spec for real-valued codes)."
        )


def _fail(spec: object, must: str = _FORMS) -> NoReturn:
    raise InvalidParameterError(f"The 'spec' parameter must be {must}. Got {spec!r} instead.")
