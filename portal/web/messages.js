// Every error code of docs/errors.md as a plain-English sentence that says
// what to do next. Branch on codes only; the server's `message` is a fallback
// for codes this file does not know yet.

const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

function about(s) {
  if (s < 60) return "in less than a minute";
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? "in about a minute" : `in about ${m} minutes`;
  const h = Math.round(s / 3600);
  if (h < 48) return h === 1 ? "in about an hour" : `in about ${h} hours`;
  return `in about ${Math.round(s / 86400)} days`;
}

// "after 14:05 (in about 15 minutes)", "after 09:30 tomorrow (in about 20 hours)".
export function untilText(seconds) {
  if (!(seconds >= 0)) return "a little later";
  const at = new Date(Date.now() + seconds * 1000);
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const days = Math.round((new Date(at).setHours(0, 0, 0, 0) - today) / 86400000);
  let when = TIME.format(at);
  if (days === 1) when += " tomorrow";
  else if (days > 1) when += " on " + DAY.format(at);
  return `after ${when} (${about(seconds)})`;
}

function domains(list) {
  if (!list || !list.length) return "your organization's domain";
  const d = list.map((x) => "@" + String(x).replace(/^@/, ""));
  return d.length === 1 ? d[0] : d.slice(0, -1).join(", ") + " or " + d[d.length - 1];
}

const NEW_CODE = "Ask your license admin for a new code.";

const M = {
  INVALID_REQUEST: "Something in that request was not right. Reload the page and try again; if it keeps happening, contact support.",
  UNAUTHENTICATED: "Your session has ended. Sign in again to continue where you left off.",
  ROUTE_NOT_FOUND: "This part of the service is not available right now. Reload the page, or try again later.",
  METHOD_NOT_ALLOWED: "This action is not available right now. Reload the page, or try again later.",
  CODE_NOT_FOUND: "We could not find that code. Check it for typos and try again, or ask your license admin for a new code.",
  CODE_EXPIRED: "This code has expired. " + NEW_CODE,
  CODE_REVOKED: "This code has been withdrawn. " + NEW_CODE,
  CODE_USED_UP: "This code has already been used as many times as allowed. " + NEW_CODE,
  LICENSE_EXPIRED: "This license has expired. Ask the license owner to renew it, then try again.",
  NO_SEATS_AVAILABLE: "Every seat of this license is taken. Ask the license owner to free a seat or add seats, then try again.",
  EMAIL_NOT_VERIFIED: "Your email address is not verified yet. Verify it with your sign-in provider, sign in again, then retry.",
  TOKEN_WITHOUT_EMAIL: "Your sign-in did not pass your email address on to this site. Sign in again; if that does not help, tell the people who run this portal that it receives sign-in tokens without an email address.",
  EMAIL_DOMAIN_NOT_ALLOWED: (c) => `This license is only for email addresses at ${domains(c.domains)}. Sign out and sign in with such an address.`,
  TOO_MANY_ATTEMPTS: (c) => `Too many codes did not work, so activation is paused for your account. Try again ${untilText(c.retryAfter)}, and check the code carefully first.`,
  INVITE_NOT_FOUND: "This invitation link does not work. Open the most recent invitation email, or ask the person who invited you for a new link.",
  INVITE_EXPIRED: "This invitation has expired. Ask the person who invited you to send it again.",
  INVITE_REVOKED: "This invitation was withdrawn. Contact the license admin if you still need a seat.",
  INVITE_ALREADY_USED: "This invitation is no longer open: it was already accepted or declined. Ask the license admin for a new one if you still need a seat.",
  INVITE_EMAIL_MISMATCH: "This invitation was sent to a different email address. Sign in with that address to use it.",
  LICENSE_NOT_FOUND: "You no longer have access to this license. Reload My Invitations to see your current licenses.",
  SEAT_NOT_FOUND: "That seat has already been freed. Reload the page to see the current list.",
  TOO_MANY_MESSAGES: (c) => `You have sent the owner as many messages as allowed for now. You can write again ${untilText(c.retryAfter)}. The owner replies to your email address.`,
  // A 503 says whether anything changed (`error.outcome`): only
  // "unchanged" may be told as "nothing was changed".
  SERVICE_UNAVAILABLE: (c) => (c.outcome === "unknown"
    ? `The service is busy and could not confirm whether that went through. Try again ${c.retryAfter > 5 ? untilText(c.retryAfter) : "in a few seconds"}: trying again is safe.`
    : `The service is busy right now and nothing was changed. Try again ${c.retryAfter > 5 ? untilText(c.retryAfter) : "in a few seconds"}.`),
  OWNER_UNREACHABLE: "The owner's address cannot receive mail right now, so your message was not sent. Try again later.",
  INVITATION_QUOTA_EXCEEDED: (c) => `This license has sent as many invitation emails as allowed for now. You can send more ${untilText(c.retryAfter)}.`,
  RESEND_TOO_SOON: (c) => `This invitation was sent a moment ago. You can send it again ${untilText(c.retryAfter)}.`,
  RECIPIENT_SUPPRESSED: "Mail to this address bounced or was reported as spam before, so it is not sent again. Ask for another address.",
  INTERNAL_ERROR: () => `Something went wrong on our side. Try again later; if it keeps happening, contact support and mention the time (${TIME.format(new Date())}).`,
  NETWORK: "We could not reach the service. Check your internet connection, then try again.",
  SIGN_IN_FAILED: "We could not reach the sign-in service. Check your internet connection, then try again.",
};

export const CODES = Object.keys(M);

export function message(code, ctx = {}) {
  const m = M[code];
  if (typeof m === "function") return m(ctx);
  return m || ctx.fallback || "Something went wrong. Try again in a moment.";
}

export function errorText(err, ctx = {}) {
  if (!err || !err.code) return message("INTERNAL_ERROR");
  return message(err.code, { retryAfter: err.retryAfter, outcome: err.outcome, fallback: err.message, ...ctx });
}
