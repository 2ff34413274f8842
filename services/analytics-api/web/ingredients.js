// The ingredient hierarchy as the panels look things up in it (names by id,
// a name's root, depths), read from the ingredient-tree snapshot. Lookups
// only: every count comes from the snapshots as served.
import { analytic } from './api.js';

function indexTree(tree) {
  const nameOf = new Map(); // id (number) -> name
  const rootOfName = new Map(); // ingredient name -> its root's name
  const depthOf = new Map(); // id -> depth (roots are 0)
  const roots = [];
  let maxDepth = 0;
  const walk = (node, root, depth) => {
    const id = Number(node.id);
    nameOf.set(id, node.name);
    rootOfName.set(node.name, root);
    depthOf.set(id, depth);
    maxDepth = Math.max(maxDepth, depth);
    for (const child of node.children || []) walk(child, root, depth + 1);
  };
  for (const r of tree.children || []) {
    roots.push(r.name);
    walk(r, r.name, 0);
  }
  return { nameOf, rootOfName, depthOf, roots, maxDepth };
}

let current = null;

// {tree, index, meta, changed}; `reload` revalidates (a 304 keeps the index).
export function ingredients(reload = false) {
  if (!current || reload) {
    const previous = current;
    current = analytic('ingredient-tree')
      .then(async (r) => {
        const old = previous ? await previous.catch(() => null) : null;
        if (!r.changed && old) return { ...old, changed: false };
        return { tree: r.body.data, index: indexTree(r.body.data), meta: r.body.metadata, changed: true };
      })
      .catch((e) => {
        current = null; // the next call asks again
        throw e;
      });
  }
  return current;
}
