// The search page: reads ?q= / ?like= / ?view=outliers from the address, asks the JSON API, draws the hits.
"use strict";

const $ = (id) => document.getElementById(id);
let modality = "text";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const itemPath = (id) => "items/" + encodeURIComponent(id);

async function api(path, options) {
  const res = await fetch(path, options);
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
    modality = info.modality;
    const name = String(info.path).split("/").filter(Boolean).pop();
    $("info-summary").textContent = `${name} · ${info.items} ${modality} items`;
    const list = $("info-list");
    list.replaceChildren();
    for (const key of ["items", "modality", "encoder", "bits", "dim", "metric", "index", "bytes_per_item", "store"]) {
      if (info[key] === undefined) continue;
      list.append(el("dt", "", key.replace(/_/g, " ")), el("dd", "", info[key]));
    }
  } catch (err) {
    $("info-summary").textContent = "collection: " + err.message;
  }
  const image = modality === "image";
  $("drop").hidden = !image;
  $("q").placeholder = image ? "Item id: find images like it…" : "Search the collection…";
}

function hitNode(hit, rank) {
  const li = el("li", "hit");
  li.dataset.id = hit.id;
  if (modality === "image") {
    const img = el("img");
    img.src = itemPath(hit.id) + "/thumbnail.png";
    img.alt = hit.label ? `${hit.label} (${hit.id})` : hit.id;
    img.loading = "lazy";
    li.append(img);
  }
  const head = el("div", "hit-head");
  if (modality !== "image") head.append(el("span", "rank", `${rank}.`));
  if (hit.label) head.append(el("span", "label", hit.label));
  head.append(el("span", "score", hit.score.toFixed(3)));
  li.append(head);
  li.append(el("span", "id", hit.id));
  if (hit.snippet) li.append(el("p", "snippet", hit.snippet));
  const more = el("button", "more", "more like this");
  more.type = "button";
  more.addEventListener("click", () => go({ like: hit.id }));
  li.append(more);
  return li;
}

function showHits(body, what) {
  const list = $("hits");
  list.className = modality === "image" ? "hits grid" : "hits";
  list.replaceChildren(...body.hits.map((h, i) => hitNode(h, i + 1)));
  const n = body.hits.length;
  const by = body.score ? ` by ${body.score} score` : "";
  status(`${n} ${what}${n === 1 ? "" : "s"}${by} in ${body.took_ms.toFixed(1)} ms`);
}

function showQuery(title, text, imageUrl) {
  $("query").hidden = !title;
  $("query-title").textContent = title || "";
  $("query-text").textContent = text || "";
  const img = $("query-image");
  img.hidden = !imageUrl;
  if (imageUrl) img.src = imageUrl;
}

function k() { return $("k").value; }

function go(params) {
  const qs = new URLSearchParams(params);
  if (!qs.has("k") && !qs.has("view")) qs.set("k", k());
  history.pushState(null, "", "?" + qs.toString());
  run();
}

async function run() {
  const params = new URLSearchParams(location.search);
  const view = params.get("view");
  if (params.get("k")) $("k").value = params.get("k");
  for (const [id, on] of [["nav-outliers", view === "outliers"], ["nav-search", view !== "outliers"]]) {
    if (on) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  const q = params.get("q"), like = params.get("like");
  $("q").value = q || like || "";
  status("searching…");
  try {
    if (view === "outliers") {
      showQuery("The least typical items", "ranked by outlier score (how badly the autoencoder rebuilds them)");
      showHits(await api(`outliers?k=${encodeURIComponent(k())}`), "outlier");
    } else if (like) {
      showQuery(`More like ${like}`, "", modality === "image" ? itemPath(like) + "/thumbnail.png" : null);
      const [hits, item] = await Promise.all([
        api(`${itemPath(like)}/similar?k=${encodeURIComponent(k())}`),
        api(itemPath(like)).catch(() => null),
      ]);
      if (item) $("query-text").textContent = item.snippet || "";
      showHits(hits, "hit");
    } else if (q) {
      showQuery(null);
      const search = new URLSearchParams({ q, k: k() });
      for (const label of params.getAll("label")) search.append("label", label);
      showHits(await api("search?" + search.toString()), "hit");
    } else {
      showQuery(null);
      $("hits").replaceChildren();
      status(modality === "image" ? "Drop an image to find the stored ones most like it." : "Type a query.");
    }
  } catch (err) {
    $("hits").replaceChildren();
    status(err.message, true);
  }
}

async function searchImage(file) {
  if (!file) return;
  history.pushState(null, "", location.pathname);
  $("q").value = "";
  showQuery(`Images like ${file.name}`, "", URL.createObjectURL(file));
  status("searching…");
  const form = new FormData();
  form.append("image", file);
  form.append("k", k());
  try {
    showHits(await api("search", { method: "POST", body: form }), "hit");
  } catch (err) {
    $("hits").replaceChildren();
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

document.addEventListener("DOMContentLoaded", async () => {
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("q").value.trim();
    if (!text) return;
    go(modality === "image" ? { like: text } : { q: text });
  });
  $("nav-outliers").addEventListener("click", (e) => { e.preventDefault(); go({ view: "outliers" }); });
  $("nav-search").addEventListener("click", (e) => { e.preventDefault(); go({}); });
  window.addEventListener("popstate", run);
  wireDrop();
  await loadInfo();
  run();
});
