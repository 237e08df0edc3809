"""The generalisation suite's tables for its page: one table per modality, then (texts) the default and its 64-bit
build against MiniLM, notes under them."""

from __future__ import annotations

from typing import Any

NAMES = {"lsa-32": "LSA-32", "lsa-50": "LSA-50", "lsa-50-10k": "LSA-50 (10k words)", "tfidf": "TF-IDF",
         "tfidf-10k": "TF-IDF (10k words)", "bm25": "BM25", "minilm": "MiniLM", "pixels": "pixels",
         "pca-64": "PCA-64"}  # fmt: skip
RATIO_HEADER = {"text": "default ÷ best LSA", "image": "default ÷ better of pixels, PCA-64"}
TITLES = {"text": "Text", "image": "Images"}


def markdown(results: dict[str, Any]) -> str:
    """The tables (P@10 / P@100 in each cell, the best P@10 of a row in bold), then protocol, exclusions, where a
    baseline beats the default, the seed and the suite's time."""
    lines: list[str] = []
    for modality in ("text", "image"):
        rows = [r for r in results["corpora"] if r["modality"] == modality]
        if rows:
            lines += [f"### {TITLES[modality]}", "", *_table(rows, modality), ""]
    teacher = [r for r in results["corpora"] if r.get("teacher_ratio")]
    if teacher:
        lines += ["### Text, against MiniLM", "", *_teacher_table(teacher), "", *_bars(results, teacher), ""]
    lines += _notes(results)
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, Any]], modality: str) -> list[str]:
    baselines = list(rows[0]["baselines"])
    codes = any("codes" in r["default"] for r in rows)  # the default searches otherwise than by its codes alone
    header = ["corpus", "protocol", "items", "queries", "default code", "default", *(["codes only"] if codes else []),
              *(NAMES.get(b, b) for b in baselines), f"{RATIO_HEADER[modality]} (P@10 / P@100)", "fit s", "build s",
              "peak MB"]  # fmt: skip
    out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in rows:
        scored = {"default": r["default"], **r["baselines"]}
        best = max((s["p@10"] for s in scored.values() if s.get("p@10") is not None), default=None)
        cells = [_cell(scored[name], best) for name in ("default", *baselines)]
        if codes:
            cells.insert(1, _cell(r["default"].get("codes", {}), best))
        ratio = " / ".join("n/a" if r["ratio"][m] is None else f"{r['ratio'][m]:.2f}×" for m in ("p@10", "p@100"))
        d = r["default"]
        out.append("| " + " | ".join([r["corpus"], r["protocol"], f"{r['database_items']:,}", f"{r['queries']:,}",
                                      _code(d), *cells, ratio, f"{d['fit_s']:.0f}", f"{d['build_s']:.0f}",
                                      f"{d['peak_rss_mb']:.0f}"]) + " |")  # fmt: skip
    return out


def _code(build: dict[str, Any]) -> str:
    """The build's code, and its default search mode where the run recorded it."""
    return f"{build['code']}, {build['mode']}" if "mode" in build else build["code"]


def _teacher_table(rows: list[dict[str, Any]]) -> list[str]:
    """Per text corpus: MiniLM, the default and its 64-bit build (each in its default search mode and by its codes
    alone), each build's P@10 / P@100 over MiniLM's, and the 64-bit build's cost."""
    header = ["corpus", "MiniLM", "default", "÷ MiniLM", "codes only", "÷ MiniLM", f"{_bits(rows)} bits", "÷ MiniLM",
              f"{_bits(rows)} bits, codes only", "÷ MiniLM", f"{_bits(rows)}-bit fit s", f"{_bits(rows)}-bit build s"]
    out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in rows:
        ratio, cells = r["teacher_ratio"], [r["corpus"], _cell(r["baselines"]["minilm"], None)]
        for build in ("default", "binary"):
            scored = r.get(build, {})
            for key, score in ((build, scored), (f"{build} codes", scored.get("codes", {}))):
                cells += [_cell(score, None), _ratio(ratio.get(key))]
        binary = r.get("binary", {})
        cells += [f"{binary['fit_s']:.0f}" if binary else "n/a", f"{binary['build_s']:.0f}" if binary else "n/a"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _bits(rows: list[dict[str, Any]]) -> str:
    return next((r["binary"]["code"].split()[0] for r in rows if "binary" in r), "64")


def _ratio(ratio: dict[str, Any] | None) -> str:
    if not ratio:
        return "n/a"
    return " / ".join("n/a" if ratio.get(m) is None else f"{ratio[m]:.2f}×" for m in ("p@10", "p@100"))


def _bars(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Which corpora each build's P@10 brings to its share of MiniLM's (the run's ``teacher_bars``), which not."""
    lines = []
    for build, bar in results.get("teacher_bars", {}).items():
        told = {True: [], False: []}
        for r in rows:
            p10 = r["teacher_ratio"].get(build, {}).get("p@10")
            if p10 is not None:
                told[p10 >= bar].append(f"{r['corpus']} ({p10:.2f}×)")
        what = "The default" if build == "default" else f"The {_bits(rows)}-bit build"
        where = (f"every corpus: {', '.join(told[True])}" if not told[False] else
                 f"{', '.join(told[True]) or 'no corpus'}; not on {', '.join(told[False])}")  # fmt: skip
        lines.append(f"- {what}, in its default search mode, reaches {bar:.2f}× MiniLM's P@10 on {where}.")
    return lines


def _cell(score: dict[str, Any], best: float | None) -> str:
    if score.get("p@10") is None or score.get("p@100") is None:
        return "n/a"
    p10 = f"{score['p@10']:.3f}"
    return f"{f'**{p10}**' if score['p@10'] == best else p10} / {score['p@100']:.3f}"


def _notes(results: dict[str, Any]) -> list[str]:
    corpora = results["corpora"]
    lines = [f"P@10 / P@100; the ratio is the default's over the best reference baseline, per metric. "
             f"Protocols: test-vs-train: {results['protocols']['test-vs-train']}; leave-one-out: "
             f"{results['protocols']['leave-one-out']}.", ""]  # fmt: skip
    options = {m: o for m, o in results["default_options"].items() if o}
    given = "; ".join(f"{m} `{o}`" for m, o in options.items())
    lines.append("Default: `index_source(items, path)` with no encoder option, as `aer index FOLDER -c DIR` runs it"
                 + (f" (except these options: {given})" if given else "") + ", built in a fresh process; fit s, "
                 "build s and peak MB (peak resident memory of that process) are the build's.")  # fmt: skip
    if any("mode" in r["default"] for r in corpora):
        lines.append("Each collection is searched as a user's query runs, in its default search mode (beside its code "
                     "in the table): `hybrid` fuses the codes' ranking with BM25 over the collection's keyword index; "
                     "`codes only` is the same collection ranked by its codes alone. A leave-one-out query is the "
                     "item's text in `hybrid` mode and its stored code in `codes` mode, the item left out of its "
                     "ranking either way.")  # fmt: skip
    if any(r.get("teacher_ratio") for r in corpora):
        lines.append(f"MiniLM: all-MiniLM-L6-v2 (`aer index --encoder minilm`: 384 floats, searched exactly), on the "
                     f"same queries. {results.get('binary_bits', 64)} bits: the default path with `bits="
                     f"{results.get('binary_bits', 64)}` (`aer index --bits {results.get('binary_bits', 64)}`), built "
                     "and searched like the default.")  # fmt: skip
    encoders = {r["corpus"]: r["default"]["encoder"] for r in corpora}
    lines.append("Default encoders: " + ", ".join(f"{c} {e}" for c, e in encoders.items()) + ".")
    for family in dict.fromkeys(r["family"] for r in corpora):
        rows = [r for r in corpora if r["family"] == family]
        subsets: dict[str, list[str]] = {}
        for r in rows:
            subsets.setdefault(r["subset"], []).append(r["corpus"])
        told = "; ".join(f"{', '.join(names)}: {subset}" if len(subsets) > 1 else subset
                         for subset, names in subsets.items())  # fmt: skip
        lines.append(f"- {family}: {told}; queries: {rows[0]['query_sample']}." + _excluded(rows[0]))
    for b in dict.fromkeys(b for r in corpora for b in r["baselines"]):
        above = [f"{r['corpus']} ({r['baselines'][b]['p@10']:.3f} vs {r['default']['p@10']:.3f})"
                 for r in corpora if b in r["baselines_above_default_p@10"]]  # fmt: skip
        lines.append(f"- {NAMES.get(b, b)} is above the default on P@10 " + (f"on {', '.join(above)}." if above else
                     "on no corpus."))  # fmt: skip
    for r in corpora:
        for b, s in r["baselines"].items():
            if s.get("error"):
                lines.append(f"- {NAMES.get(b, b)} on {r['corpus']}: not fitted ({s['error']}).")
        if r["default"].get("unencodable_queries"):
            lines.append(f"- {r['corpus']}: {r['default']['unencodable_queries']} queries the default could not "
                         "encode (no word in its vocabulary) count as empty rankings.")  # fmt: skip
    quick = "Quick run (tiny slices, short training: a smoke test, not results). " if results["quick"] else ""
    lines += ["", f"{quick}Seed {results['seed']}. Suite time: {results.get('total_s', 0):.0f} s."]
    return lines


def _excluded(r: dict[str, Any]) -> str:
    grab_bags = r.get("excluded_grab_bags")
    small = next((v for k, v in r.items() if k.startswith("excluded_under_")), None)
    if grab_bags is None and small is None:
        return ""
    threshold = next((k.removeprefix("excluded_under_").removesuffix("_items") for k in r
                      if k.startswith("excluded_under_")), "?")  # fmt: skip
    parts = [f" Left out: the grab-bags {_counts(grab_bags or {})}"]
    parts.append(f"and the categories under {threshold} items: {_counts(small or {})}")
    return " ".join(parts) + f"; {r.get('kept_categories')} categories kept."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{c} ({n})" for c, n in counts.items()) or "none"
