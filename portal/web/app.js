// Boot: read the page config, apply the brand, set up sign-in, pick the page
// module by path and render it into <main>.
import { initAuth, getUser, signIn, signOut, here, safePath } from "./auth.js";
import { setApiBase } from "./api.js";
import { errorText, message } from "./messages.js";
import { h, focusH1, actions, button, announce } from "./ui.js";

const cfg = (() => {
  try {
    return JSON.parse(document.getElementById("portal-config").textContent) || {};
  } catch {
    return {};
  }
})();
const vendor = cfg.vendorName || "License Portal";
const main = document.getElementById("main");
const account = document.getElementById("account");

// Brand colour via CSSOM (allowed by the CSP). White text must stay readable
// on it, and it is also used for links on light grey: darken until >= 4.9:1.
(function brand(c) {
  if (!/^#[0-9a-f]{6}$/i.test(c || "")) return;
  let rgb = [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const lum = (v) => v.map((x) => (x /= 255) <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4)
    .reduce((s, x, i) => s + x * [0.2126, 0.7152, 0.0722][i], 0);
  while (1.05 / (lum(rgb) + 0.05) < 4.9) rgb = rgb.map((x) => Math.floor(x * 0.92));
  document.documentElement.style.setProperty("--brand", "#" + rgb.map((x) => x.toString(16).padStart(2, "0")).join(""));
})(cfg.brandColor);

const brandLink = document.getElementById("brand");
if (brandLink) {
  const name = h("span", null, vendor);
  let src = String(cfg.logoUrl || "");
  try {
    if (!src.startsWith("data:image/") && new URL(src, location.href).origin !== location.origin) src = "";
  } catch {
    src = "";
  }
  const logo = src && h("img", { src, alt: "", width: "32", height: "32" });
  brandLink.replaceChildren(...[logo, name].filter(Boolean));
}

setApiBase(cfg.apiBase);
let authError = null;
try {
  initAuth(cfg.oidc);
} catch (e) {
  authError = e;
}

const ROUTES = [
  [/^\/$/, "home", () => import("./pages/home.js")],
  [/^\/activate\/?$/, "activate", () => import("./pages/activate.js")],
  [/^\/invite\/([^/]*)\/?$/, "invite", () => import("./pages/invite.js")],
  [/^\/manage\/?$/, "manage", () => import("./pages/manage.js")],
  [/^\/manage\/([^/]+)\/?$/, "manage", () => import("./pages/manage.js")],
  [/^\/auth\/callback\/?$/, "callback", () => import("./pages/callback.js")],
  [/^\/auth\/signed-out\/?$/, "signed-out", () => import("./pages/callback.js")],
];

let gen = 0;
let user = null;

// For measuring time-to-usable (bench/portal_bench.py): User Timing marks when the page first leaves "loading".
let usableMarked = false;
function markUsable(state) {
  if (usableMarked || state === "loading") return;
  usableMarked = true;
  try {
    performance.mark("portal:usable");
    performance.mark("portal:usable:" + main.dataset.page + ":" + state);
  } catch { /* no User Timing: nothing to measure */ }
}

function signInButton(label = "Sign in", back = here(), id = "sign-in") {
  const b = button(label, async () => {
    if (b.getAttribute("aria-disabled") === "true") return;
    b.setAttribute("aria-disabled", "true");
    try {
      await signIn(back);
    } catch {
      b.removeAttribute("aria-disabled");
      announce(message("SIGN_IN_FAILED"));
    }
  }, "btn primary", { id });
  return b;
}

// Header: who is signed in and sign out, or a sign-in button when the page
// itself has none (ids stay unique: main's #sign-in wins).
function header() {
  if (user) {
    const email = user.profile.email || user.profile.name || "your account";
    account.replaceChildren(
      h("span", { class: "who" }, h("span", { class: "who-label" }, "Signed in as "), h("span", { id: "whoami", title: email }, email)),
      button("Sign out", () => signOut(), "btn small", { id: "sign-out" }));
  } else {
    account.replaceChildren(main.querySelector("#sign-in") ? "" : signInButton("Sign in", here()));
  }
  for (const [id, page] of [["nav-home", "home"], ["nav-activate", "activate"]]) {
    const a = document.getElementById(id);
    if (main.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

export function go(path, replace = false) {
  path = safePath(path);
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

async function render() {
  const my = ++gen;
  const path = location.pathname;
  let match = null;
  let route = ROUTES.find(([re]) => (match = re.exec(path)));
  if (!route) route = ROUTES[0]; // the server only serves the paths above
  const [, page, load] = route;
  main.dataset.page = page;
  user = authError ? null : await getUser();
  const live = () => my === gen;

  const ctx = {
    cfg, vendor, page, live,
    user,
    email: user ? user.profile.email || "" : "",
    params: match ? match.slice(1) : [],
    go,
    title: (t) => { document.title = t ? `${t} – ${vendor}` : vendor; },
    setUser(u) { user = u; ctx.user = u; header(); },
    // Replaces the content of <main> with a state; focus goes to its h1.
    show(state, ...kids) {
      if (!live()) return false;
      main.dataset.state = state;
      main.replaceChildren(...kids.flat().filter((k) => k != null && k !== false));
      if (state === "loading") main.setAttribute("aria-busy", "true");
      else main.removeAttribute("aria-busy");
      header();
      if (state !== "loading") {
        focusH1(main);
        window.scrollTo(0, 0);
      }
      markUsable(state);
      return true;
    },
    setState(state) { if (live()) { main.dataset.state = state; markUsable(state); } },
    loading(label = "Loading…") {
      return ctx.show("loading", h("div", { class: "loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("h1", null, label)));
    },
    signInButton,
    signedOut(title, text, back = here(), label = "Sign in") {
      return ctx.show("signed-out", h("div", { class: "card panel" },
        h("h1", null, title), h("p", { class: "lead" }, text), actions(signInButton(label, back))));
    },
    // An error state with button#retry; a refused session becomes signed-out.
    fail(err, retry, title = "Something went wrong") {
      if (err && err.code === "UNAUTHENTICATED")
        return ctx.signedOut("Please sign in again", message("UNAUTHENTICATED"));
      if (!err || !err.code) console.error(err);
      return ctx.show("error", h("div", { class: "card panel" },
        h("h1", null, title),
        h("p", { class: "lead" }, errorText(err)),
        actions(button("Try again", retry, "btn primary", { id: "retry" }))));
    },
  };

  if (authError) {
    ctx.title("Error");
    return ctx.fail({ code: "SIGN_IN_FAILED" }, () => location.reload(), "Sign-in is not available");
  }
  header();
  try {
    const mod = await load();
    if (!live()) return;
    await (page === "signed-out" ? mod.signedOut : mod.default)(ctx);
  } catch (e) {
    ctx.fail(e, () => location.reload());
  }
}

// Same-origin links to our pages navigate without a reload.
document.addEventListener("click", (ev) => {
  const a = ev.target.closest && ev.target.closest("a[href]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || a.target || a.hasAttribute("download") || a.getAttribute("href").startsWith("#")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !ROUTES.slice(0, 2).concat(ROUTES.slice(3, 5)).some(([re]) => re.test(url.pathname))) return;
  ev.preventDefault();
  go(url.pathname + url.search);
});
addEventListener("popstate", render);

render();
