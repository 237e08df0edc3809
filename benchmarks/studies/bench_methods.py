"""``aer bench text`` / ``image`` with the studies' methods: the rows of the vocabulary, binary-layer and
no-teacher comparisons, which the shipped suites (``retrieval/bench/methods.py``) do not list.

    python benchmarks/studies/bench_methods.py text --data ../shared/data/20news-bydate.tar.gz \\
        --methods lsa-50,lsa-50-5k,lsa-50-10k,ae-64bit-2k,ae-64bit-5k,ae-64bit-10k --out runs/vocab

The suite's own methods can be named beside them. The run is ``aer bench``'s (``run_benchmark``): collections
built in fresh processes, ``results.json`` with the commit, machine and command, and its page, in ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.bench import Method, run_benchmark


def _m(name: str, encoder: str, **options: object) -> Method:
    return Method(name, encoder, options)


STUDY_METHODS = {
    "text": [
        # vocabulary (studies/vocabulary): the most frequent 5,000 and 10,000 words; the 64-bit rows as they were
        # measured, with the binary code layer; then with the teacher, and with bits by rotation of taught floats
        _m("ae-64bit-2k", "ae", bits=64, vocab_size=2000),
        _m("lsa-50-5k", "lsa", dim=50, vocab_size=5000),
        _m("lsa-50-10k", "lsa", dim=50, vocab_size=10000),
        _m("ae-64bit-5k", "ae", bits=64, vocab_size=5000, binarise="layer"),
        _m("ae-64bit-10k", "ae", bits=64, vocab_size=10000, binarise="layer"),
        _m("ae-64bit-10k-teacher", "ae", bits=64, vocab_size=10000, teacher="minilm", binarise="layer"),
        _m("ae-64bit-10k-rotation", "ae", bits=64, vocab_size=10000),
        # the binary code layer, the default before bits by rotation (studies/rotation)
        _m("ae-64bit-layer", "ae", bits=64, binarise="layer"),
        # the student without its teacher (studies/teacher, studies/rotation)
        _m("ae-32-no-teacher", "ae", dim=32, teacher="none"),
        _m("ae-32bit-no-teacher", "ae", bits=32, teacher="none"),
        _m("ae-64bit-no-teacher", "ae", bits=64, teacher="none"),
        _m("ae-128bit-no-teacher", "ae", bits=128, teacher="none"),
    ],
    "image": [
        _m("conv-ae-64bit-layer", "conv-ae", bits=64, binarise="layer"),
        _m("conv-ae-256bit-layer", "conv-ae", bits=256, binarise="layer"),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=sorted(STUDY_METHODS))
    parser.add_argument("--data", type=Path, required=True, help="the suite's archive, as for aer bench")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--methods", required=True, help="comma-separated: study methods and the suite's own")
    parser.add_argument("--quick", action="store_true", help="a seeded slice, short training: a smoke test")
    args = parser.parse_args()
    run_benchmark(args.suite, args.data, args.out, methods=args.methods, quick=args.quick,
                  extra_methods=STUDY_METHODS[args.suite])  # fmt: skip


if __name__ == "__main__":
    main()
