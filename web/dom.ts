// DOM helpers. Everything that comes from processes (names, command lines, paths) is untrusted
// text: it only ever reaches the page through textContent or an attribute set with
// setAttribute on a fixed attribute name, never through innerHTML.

type Attrs = Record<string, string>;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, type: new () => T): T;
export function byId(id: string, type: new () => HTMLElement = HTMLElement): HTMLElement {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`missing #${id}`);
  return node;
}

/** Sets text only when it differs: cheap updates for cells refreshed several times a second. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
