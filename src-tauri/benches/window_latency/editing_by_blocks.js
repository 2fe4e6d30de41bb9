// The cost of WebKit's own editing against the length of an editable element, for window_latency's
// PAPER_SCRIPT. The open editor's top-level elements are copied into a plain editable element (no
// ProseMirror), and a key is typed at its end 60 times with execCommand ("exec", WebKit's editing with its
// layout), or the last text node is changed directly ("dom", layout only): on all of them, on the last 50,
// on all of their text as one paragraph (the same length in one block), and on all of them with
// `contain: layout style` on each. Answers the median / 90th percentile of each, in ms (1 ms steps in
// WebKitGTK), and how many top-level elements and blocks the editor has.
const editor = document.querySelector('[data-testid=editor]');
const out = {
  topLevel: editor.children.length,
  blocks: editor.querySelectorAll('p, li, h1, h2, h3, pre, blockquote, hr').length,
};
const spread = (a) => {
  a = a.slice().sort((x, y) => x - y);
  return `${a[Math.floor(a.length / 2)].toFixed(0)}/${a[Math.floor(a.length * 0.9)].toFixed(0)}`;
};
function lastText(node) {
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  let last = null;
  while (walker.nextNode()) last = walker.currentNode;
  return last;
}
function trial(name, elements, css) {
  const host = document.createElement('div');
  host.contentEditable = 'true';
  host.className = editor.className;
  host.style.cssText = `position:absolute; left:0; top:0; width:${editor.clientWidth}px; height:400px; overflow:auto; z-index:1000`;
  for (const e of elements) host.appendChild(e.cloneNode(true));
  if (css) for (const child of host.children) child.style.cssText = css;
  document.body.appendChild(host);
  host.focus();
  const selection = getSelection();
  selection.selectAllChildren(host);
  selection.collapseToEnd();
  host.getBoundingClientRect();
  const text = lastText(host);
  const exec = [];
  const dom = [];
  for (let i = 0; i < 60; i++) {
    let t0 = performance.now();
    document.execCommand('insertText', false, 'a');
    host.offsetHeight;
    exec.push(performance.now() - t0);
    t0 = performance.now();
    text.data += 'a';
    host.offsetHeight;
    dom.push(performance.now() - t0);
  }
  host.remove();
  out[name] = `exec ${spread(exec)}, dom ${spread(dom)}`;
}
const all = Array.from(editor.children);
const paragraph = document.createElement('p');
paragraph.textContent = editor.textContent;
for (let round = 1; round <= 2; round++) {
  trial(`all ${round}`, all);
  trial(`last 50 ${round}`, all.slice(-50));
  trial(`one paragraph ${round}`, [paragraph]);
}
trial('all, contain: layout style', all, 'contain: layout style');
return JSON.stringify(out);
