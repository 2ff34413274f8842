// D3 5.x, loaded as a classic script (Debian's node-d3 ships the UMD bundle
// only) before any module runs; modules take it from here.
export const d3 = globalThis.d3;
if (!d3) throw new Error('D3 did not load (vendor/d3.min.js)');
