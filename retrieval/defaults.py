"""Every default, and every rule that chooses a value from the data, in one place: ``aer info`` cites this module.

- what the collections and the commands default to (``aer index``, ``aer eval``, ``aer outliers``);
- each encoder's options: one frozen dataclass per encoder (``AeConfig``, ``ConvAeConfig``, ...), a field per option
  with its default and a one-line description (``OPTION_DOC``), read by ``aer encoders NAME``, the docs' options
  table (``retrieval.encoders.catalog``) and the encoders' constructors (kept as ``encoder.config``);
- the rules that read the fit data to decide what an option left unset means (the text autoencoder's vocabulary,
  teacher and budget; the image autoencoders' budget, width, flips, crops, pixel and graph parts), each with the
  reason ``aer info`` shows. Why each value is what it is: docs/encoders.md and docs/results.md. Only the standard
  library is imported here, so the CLI builds its options without loading torch, faiss or scikit-learn.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

COMMIT_EVERY = 20_000  # items encoded between writes of the index file and the store (retrieval.collection)
DEFAULT_FIT_SAMPLE = 100_000  # items the vocabulary, the encoder and an IVF quantiser are fitted on (collection.ingest)

DEFAULT_QUERIES = 1000  # labelled items drawn as queries by ``aer eval`` (retrieval.eval.labels)

# Search modes (retrieval.collection.hybrid): the nearest codes, BM25 over the words, or the two fused by reciprocal
# rank fusion. SEARCH_MODE, the default where a text collection keeps a keyword index: hybrid, the best P@10 of the
# three on every text corpus of `aer bench general`, at some cost in P@100 on 20 Newsgroups (results/hybrid).
SEARCH_MODES = ("codes", "keyword", "hybrid")
SEARCH_MODE = "hybrid"
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al. 2009; LanceDB's default)
HYBRID_DEPTH = 100  # each ranking fused is at least this deep (and twice the hits asked for)

# Binary collections keeping float codes (collection.floats): a search re-scores the Hamming top (offset + k) ×
# OVERSAMPLE with them. KEEP_FLOAT, for new binary text collections whose bits come from a float code: on, since the
# re-scored bits came close to the float code's P@10 on every text corpus for a little store room and query time;
# ×4 for a better P@100 on fortunes (benchmarks/results/rescore).
KEEP_FLOAT = True
OVERSAMPLE = 4

# Outlier scores (retrieval.collection.outliers describes each)
SCORES = ("reconstruction", "knn", "combined", "orientation")
AUTO = "auto"  # the best score the collection has: orientation where its encoder has the head, else knn
DEFAULT_SCORE = AUTO
CHOICES = (AUTO, *SCORES)  # what a caller may ask for
DEFAULT_K = 5  # the k-th nearest stored code the knn score measures the distance to
# The orientation head is off by default and tells quarter-turns unless asked (-o transforms=geometric: GEOM's 72,
# the anomaly recipe in docs/encoders.md; studies/anomaly-geometric): it costs CIFAR-10 retrieval and fit time
# (benchmarks/studies/geometric-retrieval).
TRANSFORMS = "rotations"

# What `aer index` uses when no --encoder is given, by the source's modality.
DEFAULT_ENCODER = {"text": "ae", "image": "conv-ae"}

# --- the text autoencoder's rules: vocabulary, teacher, training budget --------------------------------------------

VOCAB_SIZE = 10_000  # the text autoencoder's vocabulary: its most frequent words
BASELINE_VOCAB_SIZE = 2000  # LSA's and TF-IDF's
MIN_DF_TEXTS = 100  # from this many fit texts on, a vocabulary word must occur in at least two of them

NO_TEACHER = "none"
DEFAULT_TEACHER = "minilm"  # the bundled all-MiniLM-L6-v2
# The teacher's reading budget: TEACHER_DOCS texts of its full window (MiniLM's 256 tokens); shorter texts count for
# what it reads of them, so short quotations are taught in far larger numbers for the same teacher seconds
# (benchmarks/results/student-gap: what a 2,000-text sample cost the codes on fortunes).
TEACHER_DOCS = 2000
TEACHER_TEMPERATURE = 0.05  # of the softmaxes over a batch's similarities in the teacher's loss term

TEXT_EPOCHS = 30
TEXT_MIN_STEPS = {True: 1000, False: 2000}  # the step floor on small corpora: with a teacher / without
FEWEST_STEPS = 300  # under TEXT_MIN_STEPS texts the floor is one step per text, and at least this
STEP_WORK = 30_000_000  # optimiser steps × the network's input width, at most: a fit's training stage is bounded


def min_df(n_texts: int) -> int:
    """The fewest fit texts a vocabulary word must occur in: two from ``MIN_DF_TEXTS`` texts on (a word seen once
    pairs with nothing), else one."""
    return 2 if n_texts >= MIN_DF_TEXTS else 1


def vocabulary_note(words: int, vocab_size: int, min_df: int = 1) -> str:
    """What ``aer info`` says of the vocabulary: the cap, or that the fit texts have fewer words than it."""
    which = "every word" if min_df == 1 else f"every word in at least {min_df} texts"
    if words < vocab_size:
        return f"{words:,} words: {which} of the fit texts (they have fewer than vocab_size={vocab_size:,})"
    floor = "" if min_df == 1 else f"; words in at least {min_df} texts"
    return f"{words:,} words: the most frequent of the fit texts (vocab_size={vocab_size:,}{floor})"


def teacher_for(asked: str | None, binary_layer: bool) -> str:
    """The teacher a text autoencoder trains with: the one asked for, else MiniLM for real-valued codes (bits by
    rotation included) and none for a binary code layer, which the teacher's term does not help."""
    if asked is not None:
        return asked
    return NO_TEACHER if binary_layer else DEFAULT_TEACHER


def teacher_sample(read_tokens: Iterable[int], docs: int, window: int) -> int:
    """How many fit texts the teacher embeds, taken in their seeded order: as many as fit in ``docs`` full windows
    of reading, each counting for the tokens read of it (``read_tokens``, at least 1 and at most ``window``)."""
    read = itertools.accumulate(min(max(int(tokens), 1), window) for tokens in read_tokens)
    return sum(1 for _ in itertools.takewhile(lambda total: total <= docs * window, read))


@dataclass(frozen=True)
class StepBudget:
    """The training stage's length, and why."""

    epochs: int
    steps: int
    note: str


def text_steps(n_rows: int, batch_size: int, in_width: int, taught: bool, epochs: int | None,
               min_steps: int | None) -> StepBudget:  # fmt: skip
    """The text autoencoder's training budget for ``n_rows`` fit texts: ``epochs`` exactly when given, else
    ``TEXT_EPOCHS`` epochs, at least a floor of optimiser steps on small corpora (``min_steps`` when given, else
    ``TEXT_MIN_STEPS``, or one step per text down to ``FEWEST_STEPS`` on fewer texts than that) and at most
    ``STEP_WORK`` divided by the input width on large ones (a step costs about the input width times the first
    layer). Whole epochs: the one-cycle schedule ends where it should."""
    per_epoch = max(1, math.ceil(n_rows / batch_size))
    if epochs:
        return StepBudget(epochs, epochs * per_epoch, "as asked (epochs)")
    floor = min_steps if min_steps is not None else min(TEXT_MIN_STEPS[taught], max(FEWEST_STEPS, n_rows))
    cap = max(1, STEP_WORK // max(in_width, 1))
    wanted = max(TEXT_EPOCHS * per_epoch, floor)
    if wanted <= cap:
        why = (f"{TEXT_EPOCHS} epochs" if wanted == TEXT_EPOCHS * per_epoch
               else f"at least {floor:,} optimiser steps (a small corpus)")  # fmt: skip
        n_epochs = math.ceil(wanted / per_epoch)
    else:
        n_epochs = max(1, cap // per_epoch)
        why = f"at most {cap:,} optimiser steps ({STEP_WORK:,} / {in_width:,} input width: a bounded fit)"
    return StepBudget(n_epochs, n_epochs * per_epoch, f"{n_epochs} epochs of {n_rows:,} texts: {why}")

# --- the image autoencoders' rules: training budget, conv width, flips and crops ------------------------------------

IMAGE_EPOCHS = 5
IMAGE_MIN_STEPS = 300  # the default `min_steps`: small sets train on to this many optimiser steps
IMAGE_MAX_STEPS = 1000  # and larger ones fewer whole epochs, down to one, within this many

NARROW_CHANNELS = (16, 32, 64)  # conv-ae stage widths under WIDE_FROM fit images
WIDE_CHANNELS = (32, 64, 128)  # and from there on, where the wider network pays
WIDE_FROM = 10_000

MIRROR_LIMIT = 1.25  # views are mirrored unless mirrored fit images lie this much farther from the set than they do
CROP_SCALES = (0.6, 0.7, 0.8, 0.9)  # crop scales tried, strongest first
CROP_LIMIT = 2.5  # the strongest scale whose crops lie within this factor of the set is taken (else the mildest)
VIEW_JITTER = 0.4  # a view's brightness, contrast and saturation vary by up to this factor either way
VIEW_GREYSCALE = 0.2  # the share of views turned to greyscale

# The pixel part of float codes on aligned sets (retrieval.encoders.pixel_part; why: benchmarks/results/pixel-part)
PIXEL_DIM = 32  # principal components of the pixels
PIXEL_WEIGHT = 1.0  # their weight beside the unit code
ALIGNED_FROM = 1.5  # crop_ratio at CROP_SCALES[0] from which a set counts as aligned (photographs: about 1)
# and, with it, the graph part (retrieval.encoders.graph_part; why: benchmarks/results/graph-part)
GRAPH_NEIGHBOURS, GRAPH_WEIGHT = 5, 1.0  # neighbours in the graph, weight of the part
GRAPH_EIGEN_FROM, GRAPH_DIMS = 0.97, (8, 64)  # eigenvectors kept: those of eigenvalue over this, within these
GRAPH_ANCHORS = 10_000  # fit images the graph is built on at most (a seeded sample beyond)

KRIZHEVSKY_2011 = (8192, 4096, 2048, 1024, 512)  # dense-ae's hidden="krizhevsky2011": 3072 → these → the code


def image_budget(epochs: int | None, min_steps: int, n_images: int) -> tuple[int, int, int | None, str]:
    """``(epochs, fewest steps, most steps, why)`` for an image autoencoder fitted on ``n_images``: ``epochs``
    exactly when given, else ``IMAGE_EPOCHS`` epochs held between ``min_steps`` and ``IMAGE_MAX_STEPS`` steps."""
    if epochs:
        return epochs, 0, None, "as asked (--epochs)"
    ceiling = max(IMAGE_MAX_STEPS, min_steps)
    why = f"{IMAGE_EPOCHS} epochs, {min_steps:,} to {ceiling:,} optimiser steps ({n_images:,} training images)"
    return IMAGE_EPOCHS, min_steps, ceiling, why


def conv_channels(n_images: int) -> tuple[tuple[int, ...], str]:
    """The conv stages' channels for a fit set of ``n_images``, and why."""
    wide = n_images >= WIDE_FROM
    chosen = WIDE_CHANNELS if wide else NARROW_CHANNELS
    return chosen, (f"{'-'.join(map(str, chosen))}: {n_images:,} fit images, {'at least' if wide else 'under'} "
                    f"{WIDE_FROM:,} (the wider network pays from there)")  # fmt: skip


def choose_flips(asked: bool | None, mirror_ratio: Callable[[], float]) -> tuple[bool, str]:
    """Whether training mirrors the views, and why: as asked, or when mirrored fit images are about as close to the
    set as the images themselves (``mirror_ratio()`` under ``MIRROR_LIMIT``: photographs, not digits or text)."""
    if asked is not None:
        return asked, "on (asked)" if asked else "off (asked)"
    ratio = mirror_ratio()
    used = ratio < MIRROR_LIMIT
    return used, (f"{'on' if used else 'off'}: mirrored fit images are {ratio:.2f}× as far from the set as the "
                  f"images (limit {MIRROR_LIMIT})")  # fmt: skip


def choose_crops(asked: float | None, contrastive: float, crop_ratio: Callable[[float], float]) -> tuple[float, str]:
    """The crop scale of the training views, and why: as asked, or the strongest of ``CROP_SCALES`` whose crops stay
    within ``CROP_LIMIT`` of the set (``crop_ratio(scale)``; photographs take the strongest)."""
    if asked is not None:
        return asked, f"{asked:g} of each side (asked)"
    if not contrastive:
        return CROP_SCALES[0], "no views (contrastive=0)"
    for scale in CROP_SCALES:
        ratio = crop_ratio(scale)
        if ratio < CROP_LIMIT:
            break
    return scale, (f"{scale:g} of each side: crops that size are {ratio:.2f}× as far from the set as the images "
                   f"(limit {CROP_LIMIT}, scales tried {', '.join(map(str, CROP_SCALES))})")  # fmt: skip

# --- each encoder's options -----------------------------------------------------------------------------------------

OPTION_DOC = "doc"  # the metadata key of an option's one-line description


def option(default: Any, doc: str) -> Any:
    """A config field: an encoder option, its default and what it does."""
    return field(default=default, metadata={OPTION_DOC: doc})

DIM_DOC = "code width in floats (with bits by rotation: the width of the floats the bits come from)"
BITS_DOC = "binary codes of this many bits (a multiple of 8) instead of dim floats, compared by Hamming distance"
BINARISE_DOC = ("how bits are made: rotation (a learned rotation of the trained floats) or layer (a binary code "
                "layer trained through)")  # fmt: skip
FLOAT_DIM_DOC = "with bits by rotation: the width of the real-valued code they are made from (unset: dim)"
SEED_DOC = "random seed of everything the fit draws"
HIDDEN_DOC = "hidden layer sizes, encoder side (e.g. 500,250,125); the decoder mirrors them"
EARLY_STOP_DOC = "with epochs unset: stop when the loss on a held-out slice of the fit set stops falling"
PENALTY_DOCS = {
    "sparse": "weight of an L1 penalty on the code",
    "code_l2": "weight of an L2 penalty on the code (keeps codes near 0)",
    "contractive": "weight of a penalty on the encoder Jacobian's squared norm (contractive autoencoder)",
    "input_noise": "denoising: standard deviation of Gaussian noise added to the input while training",
}
TIED_DOC = "the decoder's weights are the encoder's, transposed"
PRETRAIN_DOC = "greedy layer-wise pre-training: epochs per layer before the whole network trains (0: none)"

RUNTIME_OPTIONS = ("device", "progress")  # options that say where and how an encoder runs: never saved


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """Options that say where and how an encoder runs, not what it computes (``RUNTIME_OPTIONS``)."""

    device: str = option("auto", "where it trains and encodes: auto (CUDA when torch sees a GPU), cpu, cuda, "
                         "cuda:N; not saved (aer: --device)")  # fmt: skip
    progress: bool = option(True, "show progress bars; not saved (aer: -q turns them off)")


@dataclass(frozen=True, kw_only=True)
class AeConfig(RuntimeConfig):
    """Deep autoencoder on bag-of-words counts, taught by a sentence transformer at fit time."""

    modality: ClassVar[str] = "text"

    dim: int = option(32, DIM_DOC)
    bits: int | None = option(None, BITS_DOC)
    binarise: str = option("rotation", BINARISE_DOC)
    float_dim: int | None = option(None, FLOAT_DIM_DOC)
    hidden: tuple[int, ...] | str = option((500, 250, 125), HIDDEN_DOC)
    vocab_size: int = option(VOCAB_SIZE, "the most frequent words of the fit texts kept as the vocabulary")
    epochs: int | None = option(None, f"training epochs, exactly; unset: {TEXT_EPOCHS}, within a step floor and "
                                "a cap chosen from the corpus")  # fmt: skip
    min_steps: int | None = option(None, "with epochs unset: the fewest optimiser steps (unset: the rule's floor)")
    early_stop: bool = option(False, EARLY_STOP_DOC)
    batch_size: int = option(128, "texts per optimiser step")
    lr: float = option(1e-3, "peak learning rate of AdamW's one-cycle schedule")
    weight_decay: float = option(0.0, "AdamW's weight decay")
    input_dropout: float = option(0.3, "denoising: the share of a text's words dropped from its input while training")
    input_noise: float = option(0.0, PENALTY_DOCS["input_noise"])
    sparse: float = option(0.0, PENALTY_DOCS["sparse"])
    code_l2: float = option(0.0, PENALTY_DOCS["code_l2"])
    contractive: float = option(0.0, PENALTY_DOCS["contractive"])
    tied: bool = option(False, TIED_DOC)
    pretrain_epochs: int = option(0, PRETRAIN_DOC)
    activation: str = option("relu", "the hidden layers' activation: relu, gelu, tanh, sigmoid or none")
    code_activation: str = option("tanh", "the real-valued code layer's activation: tanh, relu, gelu, sigmoid, none")
    teacher: str | None = option(None, f"the fit-time teacher: {DEFAULT_TEACHER}, {NO_TEACHER} or a local "
                                 "sentence-transformers model; unset: minilm, or none for a binary code layer")  # fmt: skip
    teacher_docs: int = option(TEACHER_DOCS, "the teacher's reading budget: this many texts of its full "
                                 "window, shorter texts counting for what it reads of them (a seeded sample)")
    teacher_weight: float = option(1.0, "weight of the teacher's neighbourhood term in the loss")
    decoder: bool = option(False, "keep the decoder in the saved encoder: reconstruction outlier scores need it")
    weights: str = option("int8", "how the saved weights are stored: int8 (word tables), float16 or float32")
    seed: int = option(0, SEED_DOC)


@dataclass(frozen=True, kw_only=True)
class LsaConfig:
    """Latent semantic analysis: truncated SVD of TF-IDF."""

    modality: ClassVar[str] = "text"

    dim: int = option(50, "code width: the singular vectors kept")
    vocab_size: int = option(BASELINE_VOCAB_SIZE, "the most frequent words of the fit texts kept as the vocabulary")
    sublinear_tf: bool = option(True, "weight a word's count as 1 + log(count) rather than the count")
    seed: int = option(0, SEED_DOC)


@dataclass(frozen=True, kw_only=True)
class TfidfConfig:
    """Exact TF-IDF vectors, as wide as the vocabulary."""

    modality: ClassVar[str] = "text"

    vocab_size: int = option(BASELINE_VOCAB_SIZE, "the most frequent words of the fit texts kept as the vocabulary")
    sublinear_tf: bool = option(True, "weight a word's count as 1 + log(count) rather than the count")


@dataclass(frozen=True, kw_only=True)
class MinilmConfig(RuntimeConfig):
    """all-MiniLM-L6-v2 sentence embeddings, 384 floats (bundled; nothing to fit)."""

    modality: ClassVar[str] = "text"


@dataclass(frozen=True, kw_only=True)
class MinilmAeConfig(RuntimeConfig):
    """Autoencoder on MiniLM embeddings whose code keeps their similarities: short float or binary codes."""

    modality: ClassVar[str] = "text"

    dim: int = option(32, "code width in floats")
    bits: int | None = option(None, BITS_DOC)
    hidden: tuple[int, ...] | str = option((512,), HIDDEN_DOC)
    epochs: int = option(60, "training epochs")
    batch_size: int = option(256, "embeddings per optimiser step")
    lr: float = option(1e-3, "peak learning rate of AdamW's one-cycle schedule")
    similarity: float = option(1.0, "weight of the term matching the codes' agreements to the embeddings' cosines")
    seed: int = option(0, SEED_DOC)


@dataclass(frozen=True, kw_only=True)
class ImageAeConfig(RuntimeConfig):
    """The options both image autoencoders take."""

    modality: ClassVar[str] = "image"

    dim: int = option(64, DIM_DOC)
    bits: int | None = option(None, BITS_DOC)
    binarise: str = option("rotation", BINARISE_DOC)
    float_dim: int | None = option(None, FLOAT_DIM_DOC)
    epochs: int | None = option(None, f"training epochs, exactly; unset: {IMAGE_EPOCHS}, within min_steps and "
                                f"{IMAGE_MAX_STEPS:,} optimiser steps")  # fmt: skip
    min_steps: int = option(IMAGE_MIN_STEPS, "with epochs unset: the fewest optimiser steps")
    early_stop: bool = option(False, EARLY_STOP_DOC)
    flip: bool | None = option(None, "mirror the training views; unset: chosen from the fit images")
    crop: float | None = option(None, "the smallest share of each side a view's crop keeps; unset: chosen from the "
                                "fit images")  # fmt: skip
    batch_size: int = option(256, "images per optimiser step")
    lr: float = option(2e-3, "peak learning rate of AdamW's one-cycle schedule")
    weight_decay: float = option(1e-4, "AdamW's weight decay")
    contrastive: float = option(1.0, "weight of the NT-Xent term pulling two random views' codes together "
                                "(0: a plain autoencoder)")  # fmt: skip
    temperature: float = option(0.2, "the NT-Xent term's softmax temperature")
    orientation: float = option(0.0, "weight of a head telling quarter-turns from the code; above 0 it gives the "
                                "orientation outlier score")  # fmt: skip
    transforms: str = option(TRANSFORMS, "what the orientation head tells apart: rotations (the 4 quarter-turns) or "
                             "geometric (GEOM's 72: flip × shifts × quarter-turns)")  # fmt: skip
    input_noise: float = option(0.0, PENALTY_DOCS["input_noise"])
    mask: float = option(0.0, "denoising: the share of pixels set to the mean while training")
    sparse: float = option(0.0, PENALTY_DOCS["sparse"])
    code_l2: float = option(0.0, PENALTY_DOCS["code_l2"])
    contractive: float = option(0.0, PENALTY_DOCS["contractive"])
    pixel_part: float | None = option(None, "weight of the top principal components of the pixels appended to a "
                                      "float code (0: none); unset: chosen from the fit images")  # fmt: skip
    pixel_dim: int = option(PIXEL_DIM, "the principal components the pixel part keeps")
    graph_part: float | None = option(None, "weight of the fit images' neighbour-graph eigenvectors appended to a "
                                      "float code (0: none); unset: with the pixel part")  # fmt: skip
    codebook: int = option(0, "a VQ codebook of this many codewords per code segment (0: none; not with bits)")
    segments: int = option(8, "with a codebook: the code segments, each replaced by its nearest codeword")
    seed: int = option(0, SEED_DOC)


@dataclass(frozen=True, kw_only=True)
class ConvAeConfig(ImageAeConfig):
    """Convolutional autoencoder with two-view contrastive training."""

    channels: tuple[int, ...] | None = option(None, "channels of the conv stages (e.g. 32,64,128); unset: chosen "
                                              "from the fit-set size")  # fmt: skip
    norm: bool = option(True, "batch norm after each convolution")


@dataclass(frozen=True, kw_only=True)
class DenseAeConfig(ImageAeConfig):
    """Dense autoencoder on the 3,072 pixels (Krizhevsky & Hinton 2011's shape with hidden=krizhevsky2011)."""

    hidden: tuple[int, ...] | str = option((1024, 512), HIDDEN_DOC + "; krizhevsky2011: the paper's 8192,4096,"
                                           "2048,1024,512")  # fmt: skip
    tied: bool = option(False, TIED_DOC)
    pretrain_epochs: int = option(0, PRETRAIN_DOC)


@dataclass(frozen=True, kw_only=True)
class PcaConfig:
    """Principal components of the pixels, compared by L2; with bits, their signs (PCA hashing)."""

    modality: ClassVar[str] = "image"

    dim: int = option(64, "code width: the principal components kept")
    bits: int | None = option(None, "codes of the signs of the top this many components (a multiple of 8), "
                              "compared by Hamming distance")  # fmt: skip
    seed: int = option(0, SEED_DOC)


@dataclass(frozen=True, kw_only=True)
class PixelsConfig:
    """The 3,072 pixel values, compared by L2 (nothing to fit, no options)."""

    modality: ClassVar[str] = "image"

# The encoders `--encoder` names, text first, each modality's default first: the registered encoders use these
# (tests/test_encoder_options.py checks that the two agree).
ENCODER_CONFIGS: dict[str, type] = {
    "ae": AeConfig, "lsa": LsaConfig, "tfidf": TfidfConfig, "minilm": MinilmConfig, "minilm-ae": MinilmAeConfig,
    "conv-ae": ConvAeConfig, "dense-ae": DenseAeConfig, "pca": PcaConfig, "pixels": PixelsConfig,
}  # fmt: skip
