// Tiny DOM helpers. The page is built with createElement/textContent only
// (strict CSP: no innerHTML with data, no style attributes).

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat(4)) if (c != null && c !== false) el.append(c);
  return el;
}

let uid = 0;
export const newId = (p = "x") => `${p}-${++uid}`;

const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });
export function fmtDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d) ? DAY.format(d) : "";
}
export const isPast = (iso) => !!iso && new Date(iso) <= new Date();

export function expiryText(iso) {
  if (!iso) return "Does not expire";
  return (isPast(iso) ? "Expired on " : "Expires on ") + fmtDate(iso);
}
export const seatsText = (l) => `${l.seatsUsed} of ${l.seatsTotal} seats used`;

// Key/value list: rows of [term, value]; empty values are left out.
export function facts(rows) {
  return h("dl", { class: "facts" },
    rows.filter((r) => r[1]).map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

export function seatBar(l) {
  const bar = h("span");
  const p = l.seatsTotal > 0 ? Math.min(100, Math.round((100 * l.seatsUsed) / l.seatsTotal)) : 100;
  bar.style.setProperty("--p", p + "%"); // CSSOM custom property: allowed by the CSP
  return h("div", { class: "bar", "aria-hidden": "true" }, bar);
}

// A summary card of a license (activate success, invite pages).
export function licenseCard(l, extra = []) {
  return h("div", { class: "card summary" },
    h("p", { class: "card-title" }, l.name),
    h("p", { class: "org" }, l.organization),
    facts([
      ["Product", l.product],
      ["Seats", l.seatsTotal != null ? seatsText(l) : ""],
      ["License", l.expiresAt !== undefined ? expiryText(l.expiresAt) : ""],
      ...extra,
    ]),
    l.seatsTotal != null && seatBar(l));
}

export const actions = (...kids) => h("div", { class: "actions" }, ...kids);
export const button = (label, onclick, cls = "btn", attrs = {}) =>
  h("button", { type: "button", class: cls, onclick, ...attrs }, label);
export const homeLink = (label = "Go to My Invitations", cls = "btn") =>
  h("a", { href: "/", class: cls, id: "go-home" }, label);

export function focusH1(root) {
  const el = root.querySelector("h1");
  if (!el) return;
  el.setAttribute("tabindex", "-1");
  el.focus();
}

export function announce(text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 60);
}

// Runs an async action from a button once at a time. aria-disabled (not
// disabled) keeps keyboard focus on the button while it works.
export async function run(btn, fn) {
  if (btn.getAttribute("aria-disabled") === "true") return;
  btn.setAttribute("aria-disabled", "true");
  try {
    return await fn();
  } finally {
    btn.removeAttribute("aria-disabled");
  }
}

// A modal confirmation in dialog#confirm. Resolves true for "yes".
export function confirmDialog({ title, text, yes, no = "Cancel" }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    document.getElementById("confirm")?.remove();
    let ok = false;
    const d = h("dialog", { id: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text" },
      h("h2", { id: "confirm-title" }, title),
      h("p", { id: "confirm-text" }, text),
      h("div", { class: "actions end" },
        button(no, () => d.close(), "btn", { id: "confirm-no", autofocus: true }),
        button(yes, () => { ok = true; d.close(); }, "btn danger", { id: "confirm-yes" })));
    d.addEventListener("close", () => {
      d.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(ok);
    });
    document.body.append(d);
    d.showModal();
  });
}

// A button that asks `dialog` (confirmDialog's options) first, then runs
// `action` once at a time (see run).
export function confirmButton(label, dialog, action, cls, attrs = {}) {
  const b = button(label, async () => {
    if (await confirmDialog(dialog)) await run(b, action);
  }, cls, attrs);
  return b;
}
