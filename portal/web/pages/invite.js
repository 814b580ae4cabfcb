// "/invite/{token}": previewing never changes anything; only Accept joins.
import { api, enc } from "../api.js";
import { signOut, here } from "../auth.js";
import { message } from "../messages.js";
import { openContact } from "../contact.js";
import { h, fmtDate, licenseCard, actions, button, run, homeLink, confirmDialog } from "../ui.js";

const TOKEN = /^[A-Za-z0-9_-]{43,128}$/;

// What Accept answers (blocker or error code) -> the state that explains it.
const BY_CODE = {
  INVITE_NOT_FOUND: "not-found",
  INVITE_EXPIRED: "expired",
  INVITE_REVOKED: "revoked",
  INVITE_ALREADY_USED: "used",
  INVITE_EMAIL_MISMATCH: "wrong-account",
  EMAIL_NOT_VERIFIED: "email-not-verified",
  TOKEN_WITHOUT_EMAIL: "token-without-email",
  EMAIL_DOMAIN_NOT_ALLOWED: "domain-not-allowed",
  LICENSE_EXPIRED: "license-expired",
  NO_SEATS_AVAILABLE: "no-seats",
};
const BY_STATUS = { accepted: "used", declined: "declined", revoked: "revoked", expired: "expired" };

const list = (xs) => xs.length < 2 ? xs.join("") : xs.slice(0, -1).join(", ") + " or " + xs[xs.length - 1];

export default async function invite(ctx) {
  ctx.title("Invitation");
  let token = "";
  try {
    token = decodeURIComponent(ctx.params[0] || "");
  } catch { /* malformed escape: not a token */ }
  const path = here();
  let p = null; // the preview

  const panel = (state, title, ...body) =>
    ctx.show(state, h("div", { class: "card panel" }, h("h1", null, title), ...body));
  const lead = (t) => h("p", { class: "lead" }, t);
  const home = (label) => homeLink(label);
  const email = () => (p && p.viewer && p.viewer.email) || ctx.email;
  const product = () => (p ? p.license.product : "the product");
  const inviter = () => (p && p.invitedBy) || "the person who invited you";
  const details = (open = true) => licenseCard(p.license, [
    ["Invitation", open && p.invitation.expiresAt ? `Open until ${fmtDate(p.invitation.expiresAt)}` : ""],
  ]);

  if (!TOKEN.test(token)) return notFound();
  if (!ctx.user)
    return ctx.signedOut("You have been invited",
      "Sign in to see the invitation and accept it. If it was sent to your email address, sign in with that address.",
      path, "Sign in to continue");

  function notFound() {
    ctx.title("Invitation not found");
    panel("not-found", "This invitation link does not work", lead(message("INVITE_NOT_FOUND")), actions(home()));
  }

  async function load() {
    ctx.loading("Opening your invitation…");
    try {
      p = await api("GET", `/v1/invites/${enc(token)}`);
    } catch (e) {
      if (e.code === "INVITE_NOT_FOUND") return notFound();
      return ctx.fail(e, load, "We could not open this invitation");
    }
    ctx.title(`Invitation to ${p.license.name}`);
    const v = p.viewer || {};
    if (v.acceptedThis) return show("accepted-by-you");
    if (v.member) return show("member");
    show(BY_STATUS[p.invitation.status] || BY_CODE[v.blocker] || "ready");
  }

  // Contact Owner is open to invitees of an invitation bound to their address.
  function contactButton(slot, subject, why) {
    if (!p.invitation.email) return null;
    const L = p.license;
    const b = button("Contact the owner", () => openContact(slot, b, {
      license: L, email: email(), subject,
      text: `Hello,\n\nI was invited to "${L.name}" (${L.organization}) for ${L.product}, but ${why}\n\nThank you.`,
    }), "btn primary", { id: "contact-owner", "aria-expanded": "false" });
    return b;
  }

  const declineButton = () => {
    const b = button("Decline", () => decline(b), "btn", { id: "decline" });
    return b;
  };

  function show(state) {
    const L = p.license;
    const inv = p.invitation;
    const next = h("p", { class: "next" }, `Open ${L.product} and sign in as ${email()}.`);
    const slot = h("div");
    switch (state) {
      case "ready": {
        const accept = button("Accept invitation", () => run(accept, doAccept), "btn primary", { id: "accept" });
        return ctx.show("ready", h("div", { class: "card panel" },
          h("p", { class: "tag" }, "Invitation"),
          h("h1", null, `Join ${L.name}`),
          p.invitedBy && h("p", { class: "lead" }, `Invited by ${p.invitedBy}`),
          details(),
          h("p", { class: "meta" }, `You are signed in as ${email()}. Accepting takes one seat for this address.`),
          actions(accept, declineButton())));
      }
      case "accepted":
        return panel("accepted", `You have joined ${L.name}`,
          lead("Your seat is ready. What to do next:"), next, details(false), actions(home("Go to My Invitations")));
      case "accepted-by-you":
        return panel("accepted-by-you", "You have already accepted this invitation",
          lead(`You have a seat on ${L.name}.`), next, actions(home("Go to My Invitations")));
      case "member":
        return panel("member", `You already have a seat on ${L.name}`,
          lead(`You joined ${p.viewer.joinedVia === "code" ? "with an activation code" : "through another invitation"}, so there is nothing to accept here.`),
          next, actions(home("Go to My Invitations")));
      case "used":
        return panel("used", "This invitation has already been used",
          lead(`It was accepted, and an invitation works only once. If you need a seat on ${L.name}, ask ${inviter()} for a new invitation.`),
          actions(home()));
      case "declined":
        return panel("declined", "This invitation was declined",
          lead(`There is no seat on ${L.name} for you through this invitation. If you change your mind, ask ${inviter()} for a new one.`),
          actions(home()));
      case "revoked":
        return panel("revoked", "This invitation was withdrawn",
          lead(`It can no longer be used. If you still need a seat on ${L.name}, contact ${inviter()}.`), actions(home()));
      case "expired":
        return panel("expired", "This invitation has expired",
          lead(`${inv.expiresAt ? `It expired on ${fmtDate(inv.expiresAt)}. ` : ""}Ask ${inviter()} to send you a new invitation to ${L.name}.`),
          actions(home()));
      case "wrong-account": {
        const sw = button("Switch account", () => run(sw, () => signOut(path)), "btn primary", { id: "switch-account" });
        return panel("wrong-account", "This invitation is for another email address",
          lead(`It was sent to ${inv.email || "another address"}, but you are signed in as ${email()}.`),
          h("p", null, "Sign out and sign in with the address the invitation was sent to. You will come back to this page."),
          actions(sw, home()));
      }
      case "email-not-verified": {
        const again = ctx.signInButton("Sign in again", path, "sign-in-again");
        return panel("email-not-verified", "Verify your email address first",
          lead(`Your sign-in provider has not confirmed ${email() || "your email address"} yet.`),
          h("p", null, "Verify the address with your sign-in provider (look for their email), then sign in again to accept the invitation."),
          actions(again, home()));
      }
      case "token-without-email": {
        const again = ctx.signInButton("Sign in again", path, "sign-in-again");
        return panel("token-without-email", "Your sign-in did not share your email address",
          lead("To accept, this site needs the email address your sign-in provider confirmed, and this sign-in did not pass it on."),
          h("p", null, "Sign in again. If you see this page again, tell the people who run this portal: the service is receiving sign-in tokens without an email address."),
          actions(again, home()));
      }
      case "domain-not-allowed": {
        const sw = button("Switch account", () => run(sw, () => signOut(path)), "btn primary", { id: "switch-account" });
        const d = (L.allowedEmailDomains || []).map((x) => "@" + String(x).replace(/^@/, ""));
        return panel("domain-not-allowed", "This license needs an address from the organization",
          lead(`${L.name} is only for email addresses at ${list(d) || "the organization's domain"}. You are signed in as ${email()}.`),
          h("p", null, "Sign out and sign in with such an address. You will come back to this page."),
          actions(sw, home()));
      }
      case "license-expired":
        return panel("license-expired", `${L.name} has expired`,
          lead(`${L.expiresAt ? `The license expired on ${fmtDate(L.expiresAt)}. ` : "The license has expired. "}Once the organization renews it, you can accept this invitation.`),
          actions(contactButton(slot, `${L.name} has expired`, "the license has expired. Could you renew it?"), declineButton(), home()),
          slot);
      case "no-seats": {
        const again = button("Check again", load, p.invitation.email ? "btn" : "btn primary", { id: "check-again" });
        return panel("no-seats", "No seat is free right now",
          lead(`${L.seatsTotal > 1 ? `All ${L.seatsTotal} seats of ${L.name} are` : `Every seat of ${L.name} is`} taken. Your invitation stays open: you can accept it as soon as a seat is free.`),
          h("p", null, p.invitation.email ? "Ask the owner to free a seat or add seats." : `Ask ${inviter()} to free a seat or add seats.`),
          actions(contactButton(slot, `No free seat on ${L.name}`, "every seat is taken, so I can't accept the invitation. Could you free a seat or add seats?"), again, declineButton()),
          slot);
      }
      default:
        return notFound();
    }
  }

  async function doAccept() {
    let r;
    try {
      r = await api("POST", `/v1/invites/${enc(token)}/accept`);
    } catch (e) {
      if (BY_CODE[e.code]) return e.code === "INVITE_NOT_FOUND" ? notFound() : show(BY_CODE[e.code]);
      return ctx.fail(e, () => { ctx.loading("Accepting…"); doAccept(); }, "We could not accept the invitation");
    }
    p.license = { ...p.license, ...r.license };
    if (r.alreadyMember) {
      p.viewer = { ...p.viewer, joinedVia: r.seat && r.seat.joinedVia };
      return show("member");
    }
    if (r.seat && r.seat.email) p.viewer = { ...p.viewer, email: r.seat.email };
    show("accepted");
  }

  async function decline(btn) {
    const yes = await confirmDialog({
      title: `Decline the invitation to ${p.license.name}?`,
      text: "You will not get a seat through this invitation, and it can't be used afterwards.",
      yes: "Decline invitation",
      no: "Keep it",
    });
    if (yes) await run(btn, doDecline);
  }

  async function doDecline() {
    try {
      await api("POST", `/v1/invites/${enc(token)}/decline`);
    } catch (e) {
      if (e.code === "INVITE_ALREADY_USED") return load(); // re-read: it shows why
      if (BY_CODE[e.code]) return e.code === "INVITE_NOT_FOUND" ? notFound() : show(BY_CODE[e.code]);
      return ctx.fail(e, () => { ctx.loading("Declining…"); doDecline(); }, "We could not decline the invitation");
    }
    panel("declined", "Invitation declined",
      lead(`You will not get a seat on ${p.license.name} through this invitation. If you change your mind, ask ${inviter()} for a new one.`),
      actions(homeLink()));
  }

  await load();
}
