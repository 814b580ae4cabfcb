// "/auth/callback" (finish sign-in, go back where the user came from) and
// "/auth/signed-out" (export signedOut).
import { completeSignIn, afterSignOut, signIn, getUser, safePath, once } from "../auth.js";
import { message } from "../messages.js";
import { h, actions, button } from "../ui.js";

export default async function callback(ctx) {
  ctx.title("Signing in");
  ctx.loading("Signing you in…");
  const q = new URLSearchParams(location.search);
  const state = q.get("state") || "";
  const cut = state.indexOf(";");
  // The page to return to also travels in the state (after the first ";"),
  // for a sign-in that finished in another browser or tab.
  const back = safePath(cut >= 0 ? state.slice(cut + 1) : "/");
  const retry = (label = "Try again") => {
    const b = button(label, async () => {
      try {
        await signIn(back);
      } catch {
        b.before(h("p", { role: "alert" }, message("SIGN_IN_FAILED")));
      }
    }, "btn primary", { id: "retry" });
    return b;
  };

  if (q.get("error")) {
    const cancelled = q.get("error") === "access_denied";
    const desc = q.get("error_description");
    return ctx.show("error", h("div", { class: "card panel" },
      h("h1", null, cancelled ? "Sign-in was cancelled" : "Sign-in did not finish"),
      h("p", { class: "lead" }, cancelled ? "You can sign in again whenever you are ready." :
        "The sign-in provider reported a problem" + (desc ? `: ${desc}` : ".")),
      actions(retry("Sign in again"))));
  }
  if (!q.get("code")) return ctx.go(ctx.user ? back : "/", true);

  let to;
  try {
    to = await completeSignIn();
  } catch (e) {
    // Already signed in (the callback was reloaded): just continue.
    if (await getUser()) return ctx.go(back, true);
    if (/state/i.test(String(e && e.message))) {
      // The sign-in started in another browser or tab: start a fresh one here.
      if (once("portal.freshSignIn")) {
        try {
          return await signIn(back);
        } catch { /* fall through to the button */ }
      }
      return ctx.signedOut("Please sign in once more",
        "Your sign-in started in another window, so it could not be finished here. Sign in again to continue.", back);
    }
    return ctx.show("error", h("div", { class: "card panel" },
      h("h1", null, "Sign-in did not finish"),
      h("p", { class: "lead" }, "We could not complete your sign-in. Check your internet connection, then try again."),
      actions(retry())));
  }
  ctx.go(to, true);
}

export async function signedOut(ctx) {
  ctx.title("Signed out");
  ctx.loading("Signing out…");
  const back = await afterSignOut();
  ctx.setUser(null);
  if (back) {
    // Switch account: sign in again (as someone else) and return.
    ctx.loading("Opening sign-in…");
    try {
      return await signIn(back, { prompt: "login" });
    } catch { /* offer the button below */ }
  }
  ctx.show("signed-out", h("div", { class: "card panel" },
    h("h1", null, "You have signed out"),
    h("p", { class: "lead" }, `Thank you for using ${ctx.vendor}. Sign in again whenever you need your licenses.`),
    actions(ctx.signInButton("Sign in", back || "/"))));
}
