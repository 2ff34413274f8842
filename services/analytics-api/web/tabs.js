// Tabs: an ARIA tablist. Click or arrow keys (Home/End too) switch panels;
// the choice is kept in the URL's #fragment so a reload or a link returns
// to the same panel.
export class Tabs {
  constructor(nav, onShow) {
    this.nav = nav;
    this.onShow = onShow;
    this.tabs = [...nav.querySelectorAll('[role="tab"]')];
    this.current = null;
    for (const tab of this.tabs) {
      tab.addEventListener('click', () => this.select(tab.dataset.tab));
    }
    nav.addEventListener('keydown', (e) => this.key(e));
    window.addEventListener('hashchange', () => this.select(this.fromHash()));
  }

  fromHash() {
    const id = location.hash.slice(1);
    return this.tabs.some((t) => t.dataset.tab === id) ? id : this.tabs[0].dataset.tab;
  }

  start() {
    this.select(this.fromHash());
  }

  key(e) {
    const i = this.tabs.findIndex((t) => t.dataset.tab === this.current);
    const n = this.tabs.length;
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1 + n, Home: 0, End: n - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const tab = this.tabs[to % n];
    this.select(tab.dataset.tab);
    tab.focus();
  }

  select(id) {
    if (id === this.current) return;
    this.current = id;
    for (const tab of this.tabs) {
      const on = tab.dataset.tab === id;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on) tab.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
    }
    if (location.hash.slice(1) !== id) history.replaceState(null, '', `#${id}`);
    document.body.dataset.tab = id;
    this.onShow(id);
  }
}
