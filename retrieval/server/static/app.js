// The search page: reads ?q= / ?like= / ?view=outliers from the address, asks the JSON API, draws the hits.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { modality: "text", sample: null, like: null, tries: null, labels: null, page: null };

// What each outlier score measures (retrieval.collection.outliers), said the way the caption says it.
const SCORE_CAPTIONS = {
  reconstruction: "how badly the autoencoder rebuilds each one",
  knn: "how far each one lies from its nearest neighbours in the collection",
  combined: "how badly the autoencoder rebuilds each one and how far it lies from its neighbours, together",
  orientation: "how badly the autoencoder tells which way up each image is",
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// The hit's passage with the query's words in <mark>: highlights are [start, end) spans counted in code points
// (Python's string indices), so the text is split with Array.from rather than by UTF-16 units.
function snippetNode(hit) {
  const node = el("p", "snippet");
  const chars = Array.from(hit.snippet);
  let at = 0;
  for (const [start, end] of hit.highlights || []) {
    if (start < at || end <= start) continue;
    node.append(chars.slice(at, start).join(""), el("mark", null, chars.slice(start, end).join("")));
    at = end;
  }
  node.append(chars.slice(at).join(""));
  return node;
}

// An item id that may wrap after each "/" rather than mid-word.
function idNode(id, className = "id") {
  const node = el("span", className);
  const parts = String(id).split("/");
  parts.forEach((part, i) => {
    if (i < parts.length - 1) node.append(part + "/", document.createElement("wbr"));
    else node.append(part);
  });
  return node;
}

const itemPath = (id) => "items/" + encodeURIComponent(id);

// A server with a read token answers 401 without it: the page asks for it once, keeps it for this tab and sends
// it as "Authorization: Bearer" with every request (thumbnails too, fetched as blobs: an <img> sends no header).
const TOKEN_KEY = "aer-token";
const token = () => sessionStorage.getItem(TOKEN_KEY);

function askToken() {
  const given = window.prompt("This server needs a token to read (its read token, or its write token):");
  if (!given || !given.trim()) return false;
  sessionStorage.setItem(TOKEN_KEY, given.trim());
  return true;
}

function send(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token()) headers.set("Authorization", "Bearer " + token());
  return fetch(path, { ...options, headers });
}

function showImage(img, url) {
  if (!token() || url.startsWith("blob:")) { img.src = url; return; }
  send(url).then((res) => (res.ok ? res.blob() : null)).then((blob) => {
    if (blob) img.src = URL.createObjectURL(blob);
  }).catch(() => {});
}

async function api(path, options) {
  const sent = token();
  let res = await send(path, options);
  // asked again only when no other request has been given a new token meanwhile
  if (res.status === 401 && (token() !== sent || askToken())) res = await send(path, options);
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) throw new Error((body && body.message) || `HTTP ${res.status}`);
  return body;
}

function status(text, bad) {
  const node = $("status");
  node.textContent = text;
  node.classList.toggle("bad", Boolean(bad));
}

async function loadInfo() {
  try {
    const info = await api("info");
    state.modality = info.modality;
    const name = String(info.path).split("/").filter(Boolean).pop();
    $("info-summary").textContent = `${name} · ${info.items} ${state.modality} items`;
    const list = $("info-list");
    list.replaceChildren();
    for (const key of ["items", "modality", "encoder", "bits", "dim", "metric", "index", "bytes_per_item", "store"]) {
      if (info[key] === undefined) continue;
      list.append(el("dt", "", key.replace(/_/g, " ")), el("dd", "", info[key]));
    }
  } catch (err) {
    $("info-summary").textContent = "collection: " + err.message;
  }
  const image = state.modality === "image";
  $("drop").hidden = !image;
  $("q").placeholder = image ? "Item id: find images like it…" : "Search the collection…";
}

async function loadSample() {
  try {
    state.sample = await api("sample?n=" + (state.modality === "image" ? 12 : 6));
  } catch (_) {
    state.sample = { items: [], labels: [], labels_total: 0 };  // the page works without examples
  }
}

// --- the empty state: example queries, example items, the labels ------------------------------------------

// Label parts that make poor example queries ("comp.os.ms-windows.misc" gives "windows").
const VAGUE = new Set(["misc", "general", "other", "others", "alt", "comp", "rec", "sci", "soc", "talk"]);

// The last telling word of an item's label ("space" for sci.space), if any.
function labelWord(item) {
  return String(item.label || "").toLowerCase().split(/[^\p{L}]+/u)
    .filter((w) => w.length >= 3 && !VAGUE.has(w)).pop() || "";
}

// The word an item's text repeats most (ties: the longer).
function repeatedWord(item) {
  const counts = new Map();
  for (const word of (item.snippet || "").toLowerCase().match(/\p{L}{4,}/gu) || []) {
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  let best = "";
  for (const [word, n] of counts) {
    const m = counts.get(best) || 0;
    if (n > m || (n === m && word.length > best.length)) best = word;
  }
  return best;
}

// Example queries that the collection answers (a word may be outside the text autoencoder's vocabulary), at
// most ``n``: the sample's label words, or where fewer than three of those work, words of the items' texts too.
async function exampleQueries(items, n = 5) {
  const answered = async (words) => {
    const ok = await Promise.all(words.map(async (q) => {
      try { return (await api("search?" + new URLSearchParams({ q, k: 1 }))).hits.length > 0; }
      catch (_) { return false; }
    }));
    return words.filter((_, i) => ok[i]);
  };
  const found = await answered([...new Set(items.map(labelWord).filter(Boolean))]);
  if (found.length < 3) {
    found.push(...await answered([...new Set(items.map(repeatedWord))].filter((q) => q && !found.includes(q))));
  }
  return found.slice(0, n);
}

function exampleNode(item) {
  const li = el("li", "example");
  const link = el("a");
  link.href = "?" + new URLSearchParams({ like: item.id }).toString();
  link.addEventListener("click", (e) => { e.preventDefault(); go({ like: item.id }); });
  if (state.modality === "image") {
    const img = el("img");
    showImage(img, itemPath(item.id) + "/thumbnail.png");
    img.alt = item.label ? `${item.label} (${item.id})` : item.id;
    link.append(img);
  }
  link.append(idNode(item.id));
  li.append(link);
  if (item.label) li.append(el("span", "label", item.label));
  return li;
}

async function showTries(items) {
  if (!state.tries) state.tries = state.modality === "text" ? exampleQueries(items) : Promise.resolve([]);
  const tries = await state.tries;  // asked once per page load
  $("try").replaceChildren(...tries.map((q) => {
    const chip = el("button", "try", q);
    chip.type = "button";
    chip.addEventListener("click", () => go({ q }));
    return chip;
  }));
  $("try-block").hidden = !tries.length;
}

function showEmpty() {
  const sample = state.sample || { items: [], labels: [], labels_total: 0 };
  $("try-block").hidden = true;
  showTries(sample.items);  // drawn once the example searches have answered
  $("examples").replaceChildren(...sample.items.map(exampleNode));
  $("examples").className = state.modality === "image" ? "examples grid" : "examples";
  $("examples-block").hidden = !sample.items.length;
  $("labels").replaceChildren(...sample.labels.map((label) => el("li", "label", label)));
  const more = sample.labels_total - sample.labels.length;
  if (more > 0) $("labels").append(el("li", "more-labels", `and ${more} more`));
  $("labels-count").textContent = `(${sample.labels_total})`;
  $("labels-block").hidden = !sample.labels_total;
  $("empty").hidden = false;
}

// --- hits ----------------------------------------------------------------------------------------------

function hitNode(hit, rank) {
  const li = el("li", "hit");
  li.dataset.id = hit.id;
  li.tabIndex = -1;  // the arrow keys focus it
  if (state.modality === "image") {
    const img = el("img");
    showImage(img, itemPath(hit.id) + "/thumbnail.png");
    img.alt = hit.label ? `${hit.label} (${hit.id})` : hit.id;
    img.loading = "lazy";
    li.append(img);
  }
  const head = el("div", "hit-head");
  if (state.modality !== "image") head.append(el("span", "rank", `${rank}.`));
  if (hit.label) head.append(el("span", "label", hit.label));
  head.append(el("span", "score", hit.score.toFixed(3)));
  li.append(head, idNode(hit.id));
  if (hit.snippet) li.append(snippetNode(hit));
  const more = el("button", "more", "more like this");
  more.type = "button";
  more.addEventListener("click", () => go(withLabels({ like: hit.id })));
  li.append(more);
  return li;
}

// Draws hits; ``append`` adds them after those shown (ranks go on), for a "load more" that asks for the next page.
function renderHits(hits, { append = false } = {}) {
  const list = $("hits");
  list.className = state.modality === "image" ? "hits grid" : "hits";
  const start = append ? list.children.length : 0;
  const nodes = hits.map((h, i) => hitNode(h, start + i + 1));
  if (append) list.append(...nodes);
  else list.replaceChildren(...nodes);
  return list.children.length;
}

function showHits(body, what, options) {
  const n = renderHits(body.hits, options);
  const by = body.score ? ` by ${body.score} score` : "";
  status(`${n} ${what}${n === 1 ? "" : "s"}${by} in ${body.took_ms.toFixed(1)} ms`);
}

function showQuery(title, text, imageUrl) {
  $("query").hidden = !title;
  $("query-title").replaceChildren(...(Array.isArray(title) ? title : [title || ""]));
  $("query-text").textContent = text || "";
  const img = $("query-image");
  img.hidden = !imageUrl;
  if (imageUrl) showImage(img, imageUrl);
}

// The item a "more like this" search started from, shown as a chip beside the (empty) query box.
function showLike(id) {
  state.like = id || null;
  $("like").hidden = !id;
  $("like-id").textContent = id || "";
  $("like").title = id ? `More like ${id}` : "";
}

function k() { return $("k").value; }

// The k a linked address asks for, added to the choices when it is not one of them.
function setK(value) {
  const select = $("k");
  if (![...select.options].some((o) => o.value === value)) {
    select.append(el("option", "", value));
    const sorted = [...select.options].sort((a, b) => Number(a.value) - Number(b.value));
    select.replaceChildren(...sorted);
  }
  select.value = value;
}

function go(params) {
  const qs = new URLSearchParams(params);
  if (!qs.has("k") && !qs.has("view")) qs.set("k", k());
  const url = "?" + qs.toString();
  if (url === location.search) history.replaceState(null, "", url);  // the same search again: no new entry
  else history.pushState(null, "", url);
  run();
}

async function run() {
  const params = new URLSearchParams(location.search);
  const view = params.get("view");
  if (params.get("k")) setK(params.get("k"));
  for (const [id, on] of [["nav-outliers", view === "outliers"], ["nav-search", view !== "outliers"]]) {
    if (on) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  const q = params.get("q"), like = params.get("like");
  $("q").value = q || "";  // never the id of a "more like this": Search would look for it as text
  showLike(view === "outliers" ? null : like);
  $("score-pick").hidden = view !== "outliers";
  $("empty").hidden = true;
  newSearch();
  showRefine(view !== "outliers" && Boolean(q || like));
  status("searching…");
  try {
    if (view === "outliers") {
      const score = params.get("score") || "auto";
      $("score").value = score;
      showQuery("The least typical items", "");
      const body = await api(`outliers?${new URLSearchParams({ k: k(), score })}`);
      const what = SCORE_CAPTIONS[body.score];  // the score used: "auto" is resolved by the server
      $("score").options[0].textContent = score === "auto" ? `auto (${body.score})` : "auto";
      $("query-text").textContent = `ranked by the ${body.score} score` + (what ? `: ${what}` : "");
      showHits(body, "outlier");
    } else if (like) {
      const image = state.modality === "image" ? itemPath(like) + "/thumbnail.png" : null;
      showQuery(["More like ", idNode(like, "")], "", image);
      const similar = (offset, size) => api(`${itemPath(like)}/similar?${pageQuery(params, offset, size)}`);
      const [, item] = await Promise.all([firstPage(similar, "hit"), api(itemPath(like)).catch(() => null)]);
      if (item) $("query-text").textContent = item.snippet || "";
    } else if (q) {
      showQuery(null);
      await firstPage((offset, size) => api("search?" + pageQuery(params, offset, size, { q })), "hit");
    } else {
      showQuery(null);
      renderHits([]);
      status(state.modality === "image" ? "Drop an image to find the stored ones most like it." : "Type a query.");
      showEmpty();
    }
  } catch (err) {
    renderHits([]);
    status(err.message, true);
  }
}

async function searchImage(file) {
  if (!file) return;
  history.pushState(null, "", location.pathname);
  $("q").value = "";
  showLike(null);
  $("empty").hidden = true;
  newSearch();
  showRefine(false);
  showQuery(`Images like ${file.name}`, "", URL.createObjectURL(file));
  status("searching…");
  const upload = (offset, size) => {
    const form = new FormData();
    form.append("image", file);
    form.append("k", size);
    if (offset) form.append("offset", offset);
    return api("search", { method: "POST", body: form });
  };
  try {
    await firstPage(upload, "hit");
  } catch (err) {
    renderHits([]);
    status(err.message, true);
  }
}

function wireDrop() {
  const zone = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => { e.preventDefault(); searchImage(e.dataTransfer.files[0]); });
  $("file").addEventListener("change", (e) => searchImage(e.target.files[0]));
}

// --- the keyboard: "/" to the box, ↓ ↑ through the hits, Enter for more like the one in focus ----------------

function focusBox() {
  const box = $("q");
  box.focus();
  box.select();
}

function typingIn(node) {
  return node instanceof HTMLInputElement || node instanceof HTMLTextAreaElement ||
    node instanceof HTMLSelectElement || Boolean(node && node.isContentEditable);
}

function moveFocus(target, step) {
  const hits = [...document.querySelectorAll("#hits .hit")];
  if (!hits.length) return false;
  const at = hits.indexOf(target.closest ? target.closest(".hit") : null);
  if (at < 0 && step < 0) return false;
  const next = at < 0 ? 0 : at + step;
  if (next < 0) focusBox();
  else hits[Math.min(next, hits.length - 1)].focus();
  return true;
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const target = e.target;
  const inBox = target === $("q");
  const onHit = target.classList && target.classList.contains("hit");
  if (e.key === "/" && !typingIn(target)) {
    e.preventDefault();
    focusBox();
  } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && (inBox || !typingIn(target))) {
    if (inBox && e.key === "ArrowUp") return;
    if (moveFocus(target, e.key === "ArrowDown" ? 1 : -1)) e.preventDefault();
  } else if (e.key === "Enter" && onHit) {
    e.preventDefault();
    go(withLabels({ like: target.dataset.id }));
  } else if (e.key === "Escape" && target.closest && target.closest(".hit")) {
    focusBox();
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("q").value.trim();
    if (text) go(withLabels(state.modality === "image" ? { like: text } : { q: text }));
    else if (state.like) go(withLabels({ like: state.like }));  // the same "more like this", with the k now chosen
  });
  $("like-clear").addEventListener("click", () => { go({}); focusBox(); });
  $("more").addEventListener("click", loadMore);
  $("score").addEventListener("change", () => go({ view: "outliers", score: $("score").value }));
  $("nav-outliers").addEventListener("click", (e) => { e.preventDefault(); go({ view: "outliers" }); });
  $("nav-search").addEventListener("click", (e) => { e.preventDefault(); go({}); });
  window.addEventListener("popstate", run);
  document.addEventListener("keydown", onKey);
  wireDrop();
  await loadInfo();
  await Promise.all([loadSample(), loadLabels()]);
  run();
});
