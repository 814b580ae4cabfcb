// fetch wrapper for /v1/...: Bearer token, JSON bodies, the error envelope
// {"error": {"code", "message", ...}} and Retry-After. Never logs tokens.
import { getUser, reauth, tokenOf } from "./auth.js";

let base = "";
export function setApiBase(b) {
  base = String(b || "").replace(/\/+$/, "");
}

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message || code);
    this.status = status; // 0: the request did not reach the API
    this.code = code;
    this.retryAfter = extra.retryAfter ?? null; // seconds
    this.license = extra.license || null;
    this.outcome = extra.outcome || null; // 503: "unchanged" or "unknown"
  }
}

function seconds(v) {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v);
  const t = Date.parse(v);
  return isNaN(t) ? null : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

// 401 or expired token: sign in again and come back to this page. The
// returned promise never settles while the browser leaves the page.
async function signInAgain() {
  let leaving = false;
  try {
    leaving = await reauth();
  } catch {
    throw new ApiError(0, "SIGN_IN_FAILED", "");
  }
  if (leaving) return new Promise(() => {});
  throw new ApiError(401, "UNAUTHENTICATED", "");
}

export async function api(method, path, body) {
  const user = await getUser();
  if (!user) return signInAgain();
  const headers = { Accept: "application/json", Authorization: "Bearer " + tokenOf(user) };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(base + path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "");
  }
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch { /* empty or not JSON */ }
  }
  if (res.ok) return data;
  if (res.status === 401) return signInAgain();
  const e = (data && data.error) || {};
  const s = res.status;
  const code = e.code || (s === 503 || s === 429 ? "SERVICE_UNAVAILABLE" : s >= 500 ? "INTERNAL_ERROR" : "HTTP_" + s);
  throw new ApiError(s, code, e.message, { retryAfter: seconds(res.headers.get("Retry-After")), license: e.license, outcome: e.outcome });
}

export const enc = encodeURIComponent;
