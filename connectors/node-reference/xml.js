// A small XML reader and writer for Qimen documents: elements, text, CDATA and the five
// predefined entities plus numeric references. No DTDs, no namespaces: Qimen uses neither,
// and refusing a DTD means no entity expansion can be smuggled in.
'use strict';

const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[name] ?? whole;
  });
}

// Parse a document into {name, children: [...], text}; throws on malformed input.
function parse(source) {
  let pos = 0;
  const root = { name: '#document', children: [], text: '' };
  const stack = [root];
  while (pos < source.length) {
    const lt = source.indexOf('<', pos);
    const top = stack[stack.length - 1];
    if (lt < 0) {
      if (source.slice(pos).trim()) throw new Error('text after the root element');
      break;
    }
    if (lt > pos) top.text += decodeEntities(source.slice(pos, lt));
    if (source.startsWith('<?', lt)) {
      pos = end(source, '?>', lt) + 2;
    } else if (source.startsWith('<!--', lt)) {
      pos = end(source, '-->', lt) + 3;
    } else if (source.startsWith('<![CDATA[', lt)) {
      const close = end(source, ']]>', lt);
      top.text += source.slice(lt + 9, close);
      pos = close + 3;
    } else if (source.startsWith('<!', lt)) {
      throw new Error('DTDs are not accepted');
    } else if (source[lt + 1] === '/') {
      const close = end(source, '>', lt);
      const name = source.slice(lt + 2, close).trim();
      if (stack.length < 2 || top.name !== name) throw new Error(`unexpected </${name}>`);
      stack.pop();
      pos = close + 1;
    } else {
      const close = end(source, '>', lt);
      let inner = source.slice(lt + 1, close);
      const selfClosing = inner.endsWith('/');
      if (selfClosing) inner = inner.slice(0, -1);
      const name = inner.trim().split(/\s+/)[0];
      if (!name) throw new Error('an element without a name');
      const node = { name, children: [], text: '' };
      top.children.push(node);
      if (!selfClosing) stack.push(node);
      pos = close + 1;
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> is not closed`);
  if (root.children.length !== 1) throw new Error('a document has exactly one root element');
  return root.children[0];
}

function end(source, token, from) {
  const at = source.indexOf(token, from);
  if (at < 0) throw new Error(`missing ${token}`);
  return at;
}

// The first child element at a slash-separated path, or undefined.
function find(node, path) {
  let current = node;
  for (const part of path.split('/')) {
    current = current && current.children.find((child) => child.name === part);
  }
  return current;
}

function findAll(node, path) {
  const parts = path.split('/');
  const last = parts.pop();
  const parent = parts.length ? find(node, parts.join('/')) : node;
  return parent ? parent.children.filter((child) => child.name === last) : [];
}

function text(node, path) {
  const found = find(node, path);
  return found ? found.text.trim() : '';
}

function escape(value) {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

// Write {tag: value | [values] | {nested}} as XML; arrays repeat the element.
function write(tag, value) {
  if (Array.isArray(value)) return value.map((item) => write(tag, item)).join('');
  if (value !== null && typeof value === 'object') {
    const inner = Object.entries(value)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => write(k, v))
      .join('');
    return `<${tag}>${inner}</${tag}>`;
  }
  return `<${tag}>${escape(value)}</${tag}>`;
}

module.exports = { parse, find, findAll, text, write, escape };
