// The cost of WebKit's own editing against the number of blocks in an editable element: the open editor's
// blocks are copied into a plain editable element (no ProseMirror), a key typed at its end 60 times with
// execCommand, or its last text node changed directly (no editing, layout only), on all of them and on the
// last 50. For window_latency's PAPER_SCRIPT; answers medians and 90th percentiles in ms (1 ms steps here).
const ed = document.querySelector('[data-testid=editor]');
const out = {};
function med(a) { a = a.slice().sort((x, y) => x - y); return a[Math.floor(a.length / 2)].toFixed(2) + '/' + a[Math.floor(a.length * 0.9)].toFixed(2); }
function trial(name, blocks, how) {
  const host = document.createElement('div');
  host.contentEditable = 'true';
  host.className = ed.className;
  host.style.cssText = 'position:absolute; left:0; top:0; width:' + ed.clientWidth + 'px; height: 400px; overflow:auto; background:white; z-index: 1000';
  for (const b of blocks) host.appendChild(b.cloneNode(true));
  document.body.appendChild(host);
  host.focus();
  const sel = getSelection();
  sel.selectAllChildren(host); sel.collapseToEnd();
  host.getBoundingClientRect();
  const ins = [], lay = [];
  let node = host.lastChild; while (node.lastChild) node = node.lastChild;
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    if (how === 'dom') { node.data += 'a'; } else document.execCommand('insertText', false, 'a');
    const t1 = performance.now();
    host.offsetHeight;
    if (how === 'caret') getSelection().getRangeAt(0).getBoundingClientRect();
    const t2 = performance.now();
    ins.push(t1 - t0); lay.push(t2 - t1);
  }
  host.remove();
  out[name] = 'edit ' + med(ins) + ' layout ' + med(lay);
}
const all = Array.from(ed.children);
out.blocks = all.length;
for (let r = 0; r < 2; r++) {
  trial('all-exec' + r, all);
  trial('all-dom' + r, all, 'dom');
  trial('last50-exec' + r, all.slice(-50));
  trial('last50-dom' + r, all.slice(-50), 'dom');
}
return JSON.stringify(out);
