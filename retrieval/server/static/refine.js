// The search page's filters and pages (app.js draws the rest; both share one scope, this file loaded first):
// the label filter (?label=, repeatable) as removable chips, the label facets with their item counts, and
// "Load more", which asks for the next page of a search (offset: the hits shown).
"use strict";

const FACETS = 30;  // label facets shown at most (the labels with most items)
const MAX_DEPTH = 10000;  // offset + k of one search, at most (retrieval.server.limits.MAX_DEPTH)

// The collection's labels with their item counts, most items first: the facets.
async function loadLabels() {
  try {
    state.labels = await api("labels?limit=" + FACETS);
  } catch (_) {
    state.labels = { labels: [], total: 0 };  // the page works without facets
  }
}

// --- filters: the labels a search keeps (?label=, repeatable) as removable chips, and the label facets -----

function activeLabels() { return new URLSearchParams(location.search).getAll("label"); }

// ``params`` with the label filter now in the address: a new search keeps the filters its chips show.
function withLabels(params) {
  const qs = new URLSearchParams(params);
  for (const label of activeLabels()) qs.append("label", label);
  return qs;
}

// The search now shown again, its label filter set to ``labels``.
function filterBy(labels) {
  const params = new URLSearchParams(location.search);
  params.delete("label");
  for (const label of labels) params.append("label", label);
  go(params);
}

function filterChip(label) {
  const chip = el("span", "chip filter");
  chip.dataset.label = label;
  const clear = el("button", "chip-clear", "×");
  clear.type = "button";
  clear.title = "Remove this filter";
  clear.setAttribute("aria-label", `Remove the filter label: ${label}`);
  clear.addEventListener("click", () => filterBy(activeLabels().filter((l) => l !== label)));
  chip.append(el("span", "chip-text", `label: ${label}`), clear);
  return chip;
}

function facetNode({ label, items }) {
  const on = activeLabels().includes(label);
  const button = el("button", "facet");
  button.type = "button";
  button.dataset.label = label;
  button.setAttribute("aria-pressed", String(on));
  button.title = `${items} item${items === 1 ? "" : "s"} with this label` + (on ? " (click: remove the filter)" : "");
  button.append(el("span", "facet-name", label), el("span", "count", items));
  button.addEventListener("click", () => {
    const labels = activeLabels();
    filterBy(on ? labels.filter((l) => l !== label) : [...labels, label]);
  });
  return button;
}

// The active filters and the facets, beside a search (``shown``); hidden otherwise.
function showRefine(shown) {
  const labels = activeLabels();
  const facets = (state.labels && state.labels.labels) || [];
  $("filters").replaceChildren(...labels.map(filterChip));
  $("filters").hidden = !labels.length;
  $("facet-list").replaceChildren(...facets.map(facetNode));
  const more = state.labels ? state.labels.total - facets.length : 0;
  if (more > 0) $("facet-list").append(el("span", "more-labels", `and ${more} more`));
  $("facets").hidden = !facets.length;
  $("refine").hidden = !shown || (!labels.length && !facets.length);
}

function showWarnings(warnings) {
  const node = $("warnings");
  node.textContent = (warnings || []).join(" · ");
  node.hidden = !node.textContent;
}

// --- pages: a search's first page, then "Load more" asks for the next (offset: the hits shown) ------------

// The query string of one page: k, offset and the label filter of the address's ``params``.
function pageQuery(params, offset, size, extra = {}) {
  const qs = new URLSearchParams({ ...extra, k: size });
  if (offset) qs.set("offset", offset);
  for (const label of params.getAll("label")) qs.append("label", label);
  return qs.toString();
}

// Shows a search's first page and keeps ``fetchPage(offset, size)`` (which answers a page) for "Load more".
async function firstPage(fetchPage, what) {
  const page = { fetchPage, what, size: Number(k()) };
  state.page = page;
  const body = await fetchPage(0, page.size);
  if (state.page !== page) return;  // a newer search has started
  showHits(body, what);
  afterPage(page, body);
}

function afterPage(page, body) {
  const shown = $("hits").children.length;
  showWarnings(body.warnings);
  $("more").hidden = body.hits.length < page.size || shown + page.size > MAX_DEPTH;
}

async function loadMore() {
  const page = state.page;
  if (!page) return;
  const button = $("more");
  button.disabled = true;
  try {
    const body = await page.fetchPage($("hits").children.length, page.size);
    if (state.page !== page) return;
    showHits(body, page.what, { append: true });
    afterPage(page, body);
  } catch (err) {
    if (state.page === page) status(err.message, true);
  } finally {
    button.disabled = false;
  }
}

// Forgets the search shown: no "Load more", no warnings.
function newSearch() {
  state.page = null;
  $("more").hidden = true;
  showWarnings([]);
}
