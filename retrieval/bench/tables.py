"""The tables of the ``aer bench`` suites' pages, from their ``results.json``: the method table (text, image,
variants) and the anomaly suite's AUC table. No heavy imports: ``benchmarks/render_results.py`` renders every kept
run with these."""

from __future__ import annotations

from typing import Any

import numpy as np

COLUMNS = {  # header: (record key, format)
    "code": ("code", ""),
    "bytes/item": ("bytes_per_item", ".0f"),
    "P@10": ("p@10", ".3f"),
    "P@100": ("p@100", ".3f"),
    "mAP": ("map", ".3f"),
    "mAP@1000": ("map@1000", ".3f"),
    "fit s": ("fit_s", ".0f"),
    "index s": ("index_s", ".1f"),
    "build peak MB": ("build_peak_rss_mb", ".0f"),
    "aer index s": ("build_total_s", ".0f"),  # collections reused from an earlier `aer index` run
    "encode items/s": ("encode_items_per_s", ".0f"),
    "p50 ms": ("query_p50_ms", ".2f"),
    "p99 ms": ("query_p99_ms", ".2f"),
    "QPS 1-by-1": ("qps_single", ".0f"),
    "QPS batched": ("qps_batched", ".0f"),
}


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a markdown table (columns no method has are left out), then the run's size, two-stage
    details and the MiniLM embedding time where they apply."""
    records = results["methods"]
    columns = {h: c for h, c in COLUMNS.items() if any(c[0] in r for r in records)}
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in records:
        cells = [format(r[key], fmt) if key in r else "" for key, fmt in columns.values()]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{results['database_items']} database items, {results['queries']} queries"
        f"{' (quick slice: a smoke test, not results)' if results['quick'] else ''}.",
    ]
    pixels = next((r for r in records if r["method"] == "pixels" and r.get("map@1000")), None)
    if pixels is not None:
        ratios = ", ".join(f"{r['method']} {r['map@1000'] / pixels['map@1000']:.2f}×" for r in records
                           if r is not pixels and "map@1000" in r)  # fmt: skip
        lines += ["", f"mAP@1000 relative to pixel space: {ratios}."]
    two_stage = [r for r in records if "two_stage" in r]
    if two_stage:
        lines += ["", "| two-stage method | radius | recall of exhaustive top-100 | fell back | search p50 ms | "
                  "exhaustive p50 ms |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in two_stage:
            t = r["two_stage"]
            cells = [t["radius"], f"{t['recall_of_exhaustive_top100']:.3f}", f"{t['fell_back']:.2f}",
                     f"{t['search_p50_ms']:.3f}", f"{t['exhaustive_search_p50_ms']:.3f}"]  # fmt: skip
            lines.append(f"| {r['method']} | " + " | ".join(map(str, cells)) + " |")
    if "minilm_embedding" in results:
        e = results["minilm_embedding"]
        lines += ["", f"MiniLM embedded {e['texts']} texts once for the MiniLM methods in {e['seconds']:.0f} s "
                  "(0 when read from an earlier run's cache)."]  # fmt: skip
    return "\n".join(lines) + "\n"


ANOMALY_COLUMNS = {"reconstruction": "reconstruction error", "knn": "code {k}-NN distance", "combined": "combined",
                   "orientation": "orientation"}  # fmt: skip
# Not what a conv-ae collection holds (its cosine index keeps unit-length codes): the same scores with the kNN
# part by L2 between the codes as the encoder makes them, lengths kept.
ANOMALY_UNNORMALISED = {"knn_l2": "code {k}-NN, L2 on unnormalised codes", "combined_l2": "combined, L2 kNN"}


def anomaly_table(results: dict[str, Any]) -> str:
    """The per-class AUC table (markdown), the mean row, and what was measured."""
    k = results["knn"]
    names = {s: c.format(k=k) for s, c in ANOMALY_COLUMNS.items()}
    columns = {**names, **{s: c.format(k=k) + "*" for s, c in ANOMALY_UNNORMALISED.items()}}
    columns = {s: c for s, c in columns.items() if any(f"auc_{s}" in r for r in results["classes"])}
    keys = [*(f"auc_{s}" for s in columns), f"auc_pixel_knn{k}"]
    heads = [*(f"AUC, {c}" for c in columns.values()), f"AUC, pixel {k}-NN distance (baseline)"]
    lines = [f"| normal class | {' | '.join(heads)} |", "|---" * (len(heads) + 1) + "|"]
    for r in results["classes"]:
        lines.append(f"| {r['normal_class']} | " + " | ".join(f"{r[key]:.3f}" for key in keys) + " |")
    means = [float(np.mean([r[key] for r in results["classes"]])) for key in keys]
    lines.append("| **mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    first = results["classes"][0]
    lines += ["", *(f"- {names[s]}: {what}." for s, what in results.get("scores", {}).items())]
    if any(s in columns for s in ANOMALY_UNNORMALISED):
        lines.append("- \\*: not what a collection of these codes holds (its cosine index keeps unit-length codes): "
                     "the kNN part by L2 between the codes as the encoder makes them, in an index of their own.")
    lines += [
        f"- Autoencoder: {results['autoencoder']} (product defaults otherwise)"
        + (f"; training: {first['training']}." if "training" in first else "."),
        f"- Each class: {first['normal_train_images']:,} normal training images, {first['test_images']:,} test "
        f"images of which {first['anomalies']:,} anomalies{' (quick: a seeded slice)' if results['quick'] else ''}.",
    ]
    if "default_score" in results:
        lines.append(f"- `aer outliers` default score: {results['default_score']}.")
    if "run_s" in results:
        builds = sum(r["autoencoder_s"] for r in results["classes"]) / 60
        lines.append(f"- {results['run_s'] / 60:.1f} minutes this run; autoencoder builds {builds:.1f} minutes "
                     "(as recorded when built).")  # fmt: skip
    return "\n".join(lines) + "\n"
