// /docs: the service's OpenAPI document as a plain page (no framework, nothing from elsewhere).
"use strict";

(function () {
  const root = document.getElementById("api");
  const spec = document.querySelector("a[href$='openapi.json']").href;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function resolve(doc, schema) {
    if (schema && schema.$ref) {
      return schema.$ref.split("/").slice(1).reduce((at, key) => at[key], doc);
    }
    return schema || {};
  }

  // A schema in one line: its type and its constraints.
  function describe(doc, schema) {
    schema = resolve(doc, schema);
    if (schema.enum) return "one of " + schema.enum.join(", ");
    const type = Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type || "any");
    const parts = [type];
    if (schema.items) parts.push("of " + describe(doc, schema.items));
    if (schema.format) parts.push("(" + schema.format + ")");
    if (schema.minimum !== undefined) parts.push(">= " + schema.minimum);
    if (schema.maximum !== undefined) parts.push("<= " + schema.maximum);
    if (schema.maxLength !== undefined) parts.push("at most " + schema.maxLength + " characters");
    if (schema.default !== undefined) parts.push("default " + schema.default);
    return parts.join(" ");
  }

  function table(rows) {
    const t = el("table");
    const head = t.createTHead().insertRow();
    ["name", "where", "required", "value", "about"].forEach((h) => head.appendChild(el("th", h)));
    rows.forEach((r) => {
      const row = t.insertRow();
      r.forEach((cell) => row.appendChild(el("td", cell)));
    });
    return t;
  }

  function operation(doc, path, method, op, shared) {
    const section = el("section", undefined, "operation");
    section.appendChild(el("h3", method.toUpperCase() + " " + path));
    if (op.summary) section.appendChild(el("p", op.summary));
    const rows = (shared || []).concat(op.parameters || []).map((p) => [
      p.name, p.in, p.required ? "yes" : "no", describe(doc, p.schema), p.description || "",
    ]);
    const body = op.requestBody && op.requestBody.content;
    if (body) {
      Object.entries(body).forEach(([media, item]) => {
        const schema = resolve(doc, item.schema);
        const required = new Set(schema.required || []);
        Object.entries(schema.properties || {}).forEach(([name, prop]) => {
          rows.push([name, media, required.has(name) ? "yes" : "no", describe(doc, prop),
                     prop.description || ""]);
        });
        if (!schema.properties) rows.push(["(body)", media, "yes", describe(doc, schema), ""]);
      });
    }
    if (rows.length) section.appendChild(table(rows));
    const answers = Object.entries(op.responses || {}).map(([code, r]) =>
      code + ": " + (r.description || "") +
      (r.content ? " (" + Object.keys(r.content).join(", ") + ")" : ""));
    const list = el("ul");
    answers.forEach((a) => list.appendChild(el("li", a)));
    section.appendChild(list);
    return section;
  }

  fetch(spec, { headers: { Accept: "application/json" } })
    .then((r) => r.json())
    .then((doc) => {
      root.textContent = "";
      root.appendChild(el("p", doc.info.title + " — " + (doc.info.description || "")));
      Object.entries(doc.paths).forEach(([path, item]) => {
        ["get", "put", "post", "delete"].forEach((method) => {
          if (item[method]) root.appendChild(operation(doc, path, method, item[method],
                                                       item.parameters));
        });
      });
    })
    .catch((e) => { root.textContent = "The document could not be read: " + e; });
})();
