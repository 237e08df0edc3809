"""The text autoencoder's fit options against quality: fit in this process on a suite corpus, P@10 / P@100.

Each run fits ``ae`` with the JSON options given (``create_encoder("ae", **options)``) on the generalisation suite's
corpus (``20news-300`` is added to its sizes here), encodes the database and the queries, and scores exact cosine
rankings (test-vs-train, or leave-one-out on fortunes). Environment switches try other teachers without changing the
library (each monkeypatches ``retrieval.encoders.teacher.teach``):

- ``EXP_TOKENS=N``: the teacher reads each text's first N tokens (``none``: the model's 256);
- ``EXP_WORDS=direct``: vocabulary words embedded one by one instead of from the token table;
- ``EXP_KEYWORDS=K``: the teacher reads each text's K highest-TF-IDF words instead of the text;
- ``EXP_STATIC=N``: the teacher embeds N texts; the others get a ridge map (``EXP_RIDGE``) of their word-vector
  features into its space (0: word-vector features alone, no text embedded).

    python benchmarks/studies/fit-options/fit_options_study.py 20news-1000 '{"teacher_docs": 400}'
    EXP_TOKENS=128 python benchmarks/studies/fit-options/fit_options_study.py 20news-1000

Results of the runs behind the text budget: ``results.json`` beside this script (its ``README.md``)
(two rows there, ``AER_EXP_RECON`` and ``AER_EXP_RESTRICT``, came from temporary code not kept: the reconstruction
loss on 32 of each batch's texts, and the softmax over the batch's words only).
"""
import json, sys, time
from pathlib import Path
import numpy as np
from retrieval.encoders import create_encoder
from retrieval.eval.corpus import load_corpora

def pk(codes_db, db_labels, codes_q, q_labels, leave_out=None, ks=(10, 100)):
    db = codes_db / np.maximum(np.linalg.norm(codes_db, axis=1, keepdims=True), 1e-12)
    q = codes_q / np.maximum(np.linalg.norm(codes_q, axis=1, keepdims=True), 1e-12)
    s = q @ db.T
    if leave_out is not None:
        s[np.arange(len(leave_out)), leave_out] = -np.inf
    top = np.argsort(-s, axis=1)[:, :max(ks)]
    lab = np.asarray(db_labels, dtype=object)[top]
    rel = lab == np.asarray(q_labels, dtype=object)[:, None]
    return {f"p@{k}": round(float(rel[:, :k].mean()), 4) for k in ks}

import os
import retrieval.encoders.teacher as T
if os.environ.get("EXP_TOKENS"):
    _teach = T.teach
    v = os.environ["EXP_TOKENS"]
    T.teach = lambda *a, **k: _teach(*a, **{**k, "max_tokens": None if v == "none" else int(v)})
    import retrieval.encoders.text_autoencoder as TA; TA.teach = T.teach
if os.environ.get("EXP_WORDS") == "direct":
    T.teacher_word_vectors = lambda vocab, name, device, *_: T.embed(list(vocab), device, False, model=name)
if os.environ.get("EXP_KEYWORDS"):
    K = int(os.environ["EXP_KEYWORDS"])
    from sklearn.feature_extraction.text import TfidfVectorizer
    _teach2 = T.teach
    def kw_teach(texts, vocabulary, *a, **k):
        tv = TfidfVectorizer(vocabulary=list(vocabulary), sublinear_tf=True)
        X = tv.fit_transform(texts).tocsr()
        words = np.array(tv.get_feature_names_out())
        out = []
        for i in range(X.shape[0]):
            row = X[i]
            top = row.indices[np.argsort(-row.data)[:K]]
            out.append(" ".join(words[top]))
        return _teach2(out, vocabulary, *a, **k)
    T.teach = kw_teach
    import retrieval.encoders.text_autoencoder as TA; TA.teach = T.teach
if os.environ.get("EXP_STATIC") is not None:
    import torch, time as _t
    from retrieval.bag_of_words import BagOfWords
    from retrieval.encoders.weighting import fit_idf, tfidf
    NS = int(os.environ["EXP_STATIC"])  # MiniLM-embedded sample size (0: static only)
    def static_teach(texts, vocabulary, teacher, *, max_docs, seed, device, progress, max_tokens=None):
        t0 = _t.perf_counter()
        name = T.model_name(teacher)
        wv = T.teacher_word_vectors(vocabulary, name, device)
        bow = BagOfWords(len(vocabulary)); bow.vocabulary_ = list(vocabulary); bow._counter = bow._columns = None
        counts = bow.transform(texts)
        feats = T.word_features(tfidf(counts, fit_idf(counts), True), wv)
        n = len(texts)
        if NS:
            rng = np.random.default_rng(seed)
            pos = np.sort(rng.permutation(n)[:min(NS, n)])
            emb = T.embed([texts[i] for i in pos], device, False, model=name)
            X = feats[pos]; lam = float(os.environ.get("EXP_RIDGE", "0.1"))
            W = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ emb)
            full = feats @ W
            full /= np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-9)
            full[pos] = emb
        else:
            full = feats
        return T.TeacherSignal(np.arange(n), torch.from_numpy(full.astype(np.float32)), wv, _t.perf_counter() - t0)
    T.teach = static_teach
    import retrieval.encoders.text_autoencoder as TA; TA.teach = T.teach
import retrieval.eval.corpus as _cm
_cm.SIZES["20news"] = (300, 1000, 3000, None)
corpora = sys.argv[1].split(",")
opts = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
for c in load_corpora(Path("../shared/data"), corpora):
    texts = [d.text for d in c.database]
    labels = [d.label for d in c.database]
    enc = create_encoder("ae", progress=False, **opts)
    t = time.perf_counter(); enc.fit(texts); fit = time.perf_counter() - t
    t = time.perf_counter(); cdb = enc.encode(texts); encs = time.perf_counter() - t
    if c.leave_out is not None:
        r = pk(cdb, labels, cdb[c.leave_out], c.query_labels, c.leave_out)
    else:
        r = pk(cdb, labels, enc.encode(c.queries), c.query_labels)
    info = enc.training_info()
    print(json.dumps({"corpus": c.name, "opts": opts, **r, "fit_s": round(fit, 1), "encode_s": round(encs, 1),
                      "teacher_s": info.get("teacher_s"), "steps": info.get("steps"), "vocab": len(enc.bag_of_words_.vocabulary_)}), flush=True)
