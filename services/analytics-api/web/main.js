// The dashboard: wires the panels, the tabs, the freshness strip and the
// live stream (docs/dashboard.md).
//
// Live updates: the stream announces each generation served; the page asks
// /status which files it holds (their SHA-256), refreshes only the panels
// whose files changed (each refetch revalidates by ETag), redraws them in
// place (drill-down, zoom, selection and open tree nodes are kept), and
// only then shows the generation's catalog_seq as the one the page reflects.
import { status, getJson } from './api.js';
import { Freshness } from './freshness.js';
import { ingredients } from './ingredients.js';
import { LiveStream } from './live.js';
import { Tabs } from './tabs.js';
import { UsageTracker } from './tracking.js';
import { ActivityPanel } from './panels/activity.js';
import { ComplexityPanel } from './panels/complexity.js';
import { IngredientTreePanel } from './panels/ingredient-tree.js';
import { IngredientUsagePanel } from './panels/ingredient-usage.js';
import { SimilarPanel } from './panels/similar.js';
import { SpacePanel } from './panels/space.js';

async function config() {
  try {
    return (await getJson('/dashboard/config.json')).body;
  } catch (e) {
    console.warn('dashboard config unavailable, usage tracking off:', e.message);
    return { usage_api: null, stream: '/api/v1/analytics/stream' };
  }
}

async function main() {
  const settings = await config();
  const tracker = new UsageTracker(settings.usage_api);

  let similarSource = null;
  const similar = new SimilarPanel({
    tracker,
    onNeighbours: (ids) => similarSource && similarSource.showNeighbours(ids),
    onClose: () => closeSimilar(),
  });
  const openSimilar = (recipeId, name, map) => {
    for (const m of maps) if (m !== map) m.clearSelection();
    similarSource = map;
    document.body.dataset.similar = 'open';
    similar.root.hidden = false;
    similar.open(recipeId, name, map.id).then(() => {
      if (!similar.root.contains(document.activeElement)) {
        const first = similar.root.querySelector('button.neighbour');
        if (first && map.input !== document.activeElement) first.focus({ preventScroll: true });
      }
    });
  };
  const closeSimilar = () => {
    similar.close();
    for (const m of maps) m.clearSelection();
    similarSource = null;
    similar.root.hidden = true;
    document.body.dataset.similar = 'closed';
  };

  const maps = [
    new SpacePanel('space', 'cocktail-space', 'Cocktail space', { tracker, onSelect: openSimilar }),
    new SpacePanel('space-em', 'cocktail-space-em', 'Cocktail space (EM)', { tracker, onSelect: openSimilar }),
  ];
  const panels = {
    usage: new IngredientUsagePanel({ tracker }),
    tree: new IngredientTreePanel({ tracker }),
    complexity: new ComplexityPanel(),
    space: maps[0],
    'space-em': maps[1],
    activity: new ActivityPanel({ usageApi: settings.usage_api }),
  };
  const all = Object.values(panels);
  const freshness = new Freshness([...all, similar]);

  const tabs = new Tabs(document.querySelector('.tabs'), (id) => {
    const isMap = id === 'space' || id === 'space-em';
    similar.root.hidden = !(isMap && similar.recipeId !== null);
    document.body.dataset.similar = similar.root.hidden ? 'closed' : 'open';
    if (isMap && similarSource && similarSource.id !== id) {
      // The same recipe, marked on the map now shown.
      const map = panels[id];
      if (map.byId && map.byId.has(similar.recipeId)) {
        map.selectedId = similar.recipeId;
        similarSource.clearSelection();
        similarSource = map;
        map.showNeighbours((similar.data && similar.data.neighbors || []).map((n) => n.neighbor_recipe_id));
      }
    }
    panels[id].show().then(() => panels[id].render());
    tracker.track('tab_viewed', id, 'view');
  });
  tabs.start();
  // The panel in view first, then the others, so every tab is ready and
  // every panel's freshness shows.
  await panels[tabs.current].show();
  await Promise.all(all.map((p) => p.refresh()));

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      panels[tabs.current].render();
      if (similar.data) similar.draw();
    }, 150);
  });

  // ---- Live updates.
  const drawn = new Map(); // panel -> {file: hash} it was last refreshed for
  const TREE = { files: ['ingredient-tree'] }; // the shared ingredient index
  let pending = null; // the newest generation announced while an update runs
  let running = false;

  async function update(g) {
    pending = g;
    if (running) return;
    running = true;
    freshness.updating(true);
    try {
      while (pending) {
        const gen = pending;
        pending = null;
        let st;
        try {
          st = await status();
        } catch (e) {
          console.warn('status unavailable:', e.message);
          continue;
        }
        const jobs = [];
        // The files of `p` that changed since it was last refreshed (all of
        // them when it is waiting to retry: computing, error).
        const changed = (p) => {
          const before = drawn.get(p) || {};
          const now = {};
          for (const f of p.files) now[f] = st.files[f] ? st.files[f].sha256 : '-';
          drawn.set(p, now);
          const waiting = p.root && ['computing', 'error', 'loading'].includes(p.root.dataset.state);
          if (waiting || p.hasData === false) return p.files;
          return p.files.filter((f) => before[f] !== now[f]);
        };
        if (changed(TREE).length) jobs.push(ingredients(true).catch(() => null));
        await Promise.all(jobs);
        const refreshes = [];
        for (const p of all) {
          const files = p.files.length ? changed(p) : [];
          if (files.length) refreshes.push(p.update(files));
        }
        if (similar.recipeId !== null) {
          const files = changed(similar);
          if (files.includes('recipe-similar')) refreshes.push(similar.refresh());
          else if (files.length) refreshes.push(similar.relabel());
        }
        await Promise.all(refreshes);
        freshness.setGeneration(gen);
      }
    } finally {
      running = false;
      freshness.updating(false);
    }
  }

  new LiveStream(settings.stream || '/api/v1/analytics/stream', {
    onGeneration: (g) => update(g),
    onState: (s) => freshness.setLive(s),
  }).start();
}

main().catch((e) => {
  console.error('dashboard failed to start:', e);
  const p = document.createElement('p');
  p.className = 'state';
  p.dataset.kind = 'error';
  p.textContent = `The dashboard failed to start: ${e.message}`;
  document.querySelector('main').prepend(p);
});
