"""Defaults and choices that the library's functions take and the ``aer`` options show.

Nothing is imported here, so the CLI builds its options (``aer --help``, ``aer index --help``) without loading
torch, faiss or scikit-learn; the modules that use each value import it from here.
"""

from __future__ import annotations

COMMIT_EVERY = 20_000  # items encoded between writes of the index file and the store (retrieval.collection)
DEFAULT_FIT_SAMPLE = 100_000  # items the vocabulary, the encoder and an IVF quantiser are fitted on (retrieval.indexing)

DEFAULT_QUERIES = 1000  # labelled items drawn as queries by ``aer eval`` (retrieval.label_eval)

# Outlier scores (retrieval.outlier_scores describes each)
SCORES = ("reconstruction", "knn", "combined", "orientation")
AUTO = "auto"  # the best score the collection has: orientation where its encoder has the head, else knn
DEFAULT_SCORE = AUTO
CHOICES = (AUTO, *SCORES)  # what a caller may ask for
DEFAULT_K = 5  # the k-th nearest stored code the knn score measures the distance to
