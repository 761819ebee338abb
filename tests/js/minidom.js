// A minimal namespace-aware DOMParser for Node tests of the UWS library: elements, attributes,
// text, CDATA and the five XML entities plus character references. Malformed input gives a
// document whose root is <parsererror>, as browsers do.

const XMLNS = "http://www.w3.org/2000/xmlns/";
const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, ref) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    if (!(ref in ENTITIES)) throw new Error(`unknown entity ${all}`);
    return ENTITIES[ref];
  });
}

class Text {
  constructor(data) { this.nodeType = 3; this.data = data; this.childNodes = []; }
  get textContent() { return this.data; }
}

class Element {
  constructor(qname, attributes, parent) {
    this.nodeType = 1;
    this.tagName = qname;
    this.childNodes = [];
    this.parentNode = parent;
    this.attributes = attributes; // [{qname, value}]
    this.scope = { ...(parent ? parent.scope : { xml: "http://www.w3.org/XML/1998/namespace" }) };
    for (const { qname: name, value } of attributes) {
      if (name === "xmlns") this.scope[""] = value;
      else if (name.startsWith("xmlns:")) this.scope[name.slice(6)] = value;
    }
    const [prefix, local] = split(qname);
    this.localName = local;
    this.prefix = prefix;
    this.namespaceURI = this.resolve(prefix, true);
  }

  resolve(prefix, isElement) {
    if (prefix === "" && !isElement) return null;
    const uri = this.scope[prefix];
    if (uri === undefined && prefix !== "") throw new Error(`undeclared prefix ${prefix}`);
    return uri || null;
  }

  get textContent() { return this.childNodes.map((n) => n.textContent).join(""); }

  getAttribute(qname) {
    const found = this.attributes.find((a) => a.qname === qname);
    return found ? found.value : null;
  }

  getAttributeNS(ns, local) {
    for (const { qname, value } of this.attributes) {
      if (qname === "xmlns" || qname.startsWith("xmlns:")) continue;
      const [prefix, name] = split(qname);
      if (name === local && this.resolve(prefix, false) === (ns || null)) return value;
    }
    return null;
  }

  getElementsByTagName(qname) {
    return this.descendants().filter((e) => qname === "*" || e.tagName === qname);
  }

  getElementsByTagNameNS(ns, local) {
    return this.descendants().filter((e) => (ns === "*" || e.namespaceURI === ns)
      && (local === "*" || e.localName === local));
  }

  descendants() {
    const out = [];
    for (const child of this.childNodes) {
      if (child.nodeType === 1) out.push(child, ...child.descendants());
    }
    return out;
  }
}

function split(qname) {
  const colon = qname.indexOf(":");
  return colon < 0 ? ["", qname] : [qname.slice(0, colon), qname.slice(colon + 1)];
}

class XMLDocument {
  constructor(root) { this.documentElement = root; this.childNodes = [root]; this.nodeType = 9; }
  getElementsByTagName(name) {
    const root = this.documentElement;
    return [root, ...root.descendants()].filter((e) => name === "*" || e.tagName === name);
  }
  getElementsByTagNameNS(ns, local) {
    const root = this.documentElement;
    return [root, ...root.descendants()].filter((e) => (ns === "*" || e.namespaceURI === ns)
      && (local === "*" || e.localName === local));
  }
}

const TOKEN = /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<\/([^\s>]+)\s*>|<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/gy;
const ATTRIBUTE = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function parse(text) {
  let root = null;
  let current = null;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m || m.index !== start) throw new Error(`syntax error at ${start}`);
    const [, cdata, close, open, attrs, selfClose, chars] = m;
    if (cdata !== undefined) {
      if (!current) throw new Error("text outside the root");
      current.childNodes.push(new Text(cdata));
    } else if (close !== undefined) {
      if (!current || current.tagName !== close) throw new Error(`unexpected </${close}>`);
      current = current.parentNode;
    } else if (open !== undefined) {
      if (!current && root) throw new Error("two root elements");
      const attributes = [...(attrs || "").matchAll(ATTRIBUTE)]
        .map((a) => ({ qname: a[1], value: decode(a[2] ?? a[3]) }));
      const element = new Element(open, attributes, current);
      if (current) current.childNodes.push(element); else root = element;
      if (!selfClose) current = element;
    } else if (chars !== undefined) {
      if (current) current.childNodes.push(new Text(decode(chars)));
      else if (chars.trim()) throw new Error("text outside the root");
    }
  }
  if (!root || current) throw new Error("unclosed element");
  return new XMLDocument(root);
}

export class DOMParser {
  parseFromString(text) {
    try {
      return parse(String(text));
    } catch (error) {
      const fault = new Element("parsererror", [], null);
      fault.childNodes.push(new Text(error.message));
      return new XMLDocument(fault);
    }
  }
}

export { XMLNS };
