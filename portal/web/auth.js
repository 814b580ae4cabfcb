// oidc-client-ts wrapper (global `oidc` from vendor/oidc-client-ts.min.js):
// authorization code + PKCE, user and state in localStorage, the page to
// come back to carried in the redirect state (url_state).

let mgr = null;
let tokenKind = "id_token";
const AFTER_SIGN_OUT = "portal.afterSignOut";
const REAUTH_AT = "portal.reauthAt";

// Only same-origin paths: "/x", never "//host" or "/\host".
export function safePath(p) {
  return typeof p === "string" && /^\/(?![/\\])/.test(p) ? p : "/";
}
export const here = () => location.pathname + location.search;

export function initAuth(o = {}) {
  if (!window.oidc) throw new Error("sign-in library missing");
  const store = new window.oidc.WebStorageStateStore({ store: window.localStorage });
  tokenKind = o.apiToken === "access_token" ? "access_token" : "id_token";
  const settings = {
    authority: o.authority,
    client_id: o.clientId,
    redirect_uri: location.origin + "/auth/callback",
    post_logout_redirect_uri: location.origin + "/auth/signed-out",
    response_type: "code",
    scope: o.scope || "openid email profile",
    userStore: store,
    stateStore: store,
    automaticSilentRenew: false,
    monitorSession: false,
    loadUserInfo: false,
  };
  // A deployment that cannot know its own URL writes "{origin}" (Cognito's
  // logout_uri when the portal is served on the API's generated domain).
  if (o.endSessionEndpoint) {
    settings.metadataSeed = { end_session_endpoint: o.endSessionEndpoint.split("{origin}").join(location.origin) };
  }
  mgr = new window.oidc.UserManager(settings);
}

export const tokenOf = (u) => (u ? u[tokenKind] : null);
const usable = (u) => (u && !u.expired && tokenOf(u) ? u : null);

// The stored user, or null when there is none or its token has expired.
export async function getUser() {
  try {
    return usable(await mgr.getUser());
  } catch {
    return null;
  }
}

export async function signIn(returnTo = here(), extra = {}) {
  await mgr.signinRedirect({ url_state: safePath(returnTo), ...extra });
}

// Sign in again after a 401 or an expired token, at most once per two minutes
// (a token the API keeps refusing must not loop). False: show a button instead.
export async function reauth(returnTo = here()) {
  if (!once(REAUTH_AT)) return false;
  await mgr.removeUser().catch(() => {});
  await signIn(returnTo);
  return true;
}

// True at most once per two minutes for a key (per tab).
export function once(key, ms = 120000) {
  try {
    if (Date.now() - Number(sessionStorage.getItem(key) || 0) < ms) return false;
    sessionStorage.setItem(key, String(Date.now()));
    return true;
  } catch {
    return false;
  }
}

// Signs out at the provider; with returnTo, signs in again afterwards and
// comes back there (switch account).
export async function signOut(returnTo) {
  try {
    if (returnTo) localStorage.setItem(AFTER_SIGN_OUT, JSON.stringify({ to: safePath(returnTo), at: Date.now() }));
    else localStorage.removeItem(AFTER_SIGN_OUT);
  } catch { /* storage blocked: plain sign-out */ }
  try {
    await mgr.signoutRedirect();
  } catch {
    // No end-session endpoint or the provider is unreachable: sign out here.
    await mgr.removeUser().catch(() => {});
    location.assign("/auth/signed-out");
  }
}

// On /auth/signed-out: forget the user and return where to sign in again to (or null).
export async function afterSignOut() {
  await mgr.removeUser().catch(() => {});
  if (new URLSearchParams(location.search).has("state")) await mgr.signoutCallback().catch(() => {});
  await mgr.clearStaleState().catch(() => {});
  try {
    const r = JSON.parse(localStorage.getItem(AFTER_SIGN_OUT) || "null");
    localStorage.removeItem(AFTER_SIGN_OUT);
    if (r && Date.now() - r.at < 600000) return safePath(r.to);
  } catch { /* nothing to resume */ }
  return null;
}

// On /auth/callback: finish the sign-in and return the path to go to.
export async function completeSignIn() {
  const user = await mgr.signinCallback();
  return safePath(user && user.url_state);
}
