// DOM helpers: every value from a job goes in as text (text nodes, textContent), never as HTML.

/**
 * Create an element. ``attrs`` are set as attributes, except ``on*`` functions (listeners),
 * ``dataset`` (an object) and properties named in PROPS; children are nodes or text.
 * @param {string} tag @param {Object<string, any>} [attrs] @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (PROPS.has(key)) {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, ...children);
  return element;
}

const PROPS = new Set(["value", "checked", "selected", "disabled", "hidden", "indeterminate"]);

/** @param {Node} parent @param {...any} children nodes, text, or arrays of them */
export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace the children of ``parent``. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, ...children);
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no element #${id}`);
  return element;
}

/** Show a message in the page's status area (an ARIA live region). */
export function status(message, kind = "info") {
  const area = byId("status");
  replace(area, message ? h("p", { class: `message ${kind}` }, message) : null);
}

/**
 * A modal confirmation built on <dialog>: resolves true when confirmed. ``details`` (say, the
 * list of the jobs concerned) goes under the question; Cancel has the focus, so that Enter
 * or Escape change nothing.
 */
export function confirmDialog(question, confirmLabel, details = null) {
  return new Promise((resolve) => {
    const title = h("h2", { id: "dialog-title" }, question);
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "dialog-title" });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    const cancel = h("button", { type: "button", class: "cancel", onclick: () => done(false) }, "Cancel");
    append(dialog, title, details, h("div", { class: "buttons" },
      h("button", { type: "button", class: "danger", onclick: () => done(true) }, confirmLabel), cancel));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * A button that copies ``text()`` to the clipboard and says so ("Copied") for a moment.
 * The clipboard API needs a secure context (HTTPS or localhost); elsewhere the text is
 * selected in a hidden field and copied the old way.
 */
export function copyButton(text, label, visible = "Copy") {
  const button = h("button", { type: "button", class: "copy", "aria-label": label, title: label }, visible);
  button.addEventListener("click", async () => {
    const value = text();
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      const area = h("textarea", { class: "visually-hidden", "aria-hidden": "true" }, value);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    button.dataset.copied = value;
    setTimeout(() => { button.textContent = visible; }, 2000);
  });
  return button;
}

/** A table's box that scrolls sideways on narrow screens: focusable, so keys scroll it too. */
export function scrollBox(label, child) {
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, child);
}
