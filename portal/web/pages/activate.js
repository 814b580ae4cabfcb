// "/activate" Activate Product: one forgiving input; the API normalises the code.
import { api } from "../api.js";
import { signOut } from "../auth.js";
import { errorText } from "../messages.js";
import { openContact } from "../contact.js";
import { h, licenseCard, actions, button, run, homeLink } from "../ui.js";

// Errors where the license owner can help, and what to ask them.
const ASK = {
  CODE_USED_UP: (l, c) => [`Activation code used up: ${l.name}`,
    `the code ${c} has already been used as many times as allowed. Could you send me a new code, or allow more uses of this one?`],
  NO_SEATS_AVAILABLE: (l, c) => [`No free seat on ${l.name}`,
    `every seat of the license is taken, so the code ${c} could not give me one. Could you free a seat or add seats?`],
  LICENSE_EXPIRED: (l, c) => [`${l.name} has expired`,
    `the license has expired, so the code ${c} did not work. Could you renew the license?`],
};

export default async function activate(ctx) {
  ctx.title("Activate Product");
  if (!ctx.user)
    return ctx.signedOut("Activate Product", "Sign in to activate a product with the activation code you received.");

  function ready(value = "") {
    const input = h("input", {
      id: "code", name: "code", type: "text", class: "code-input", value,
      autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
      placeholder: "I-XXXX-XXXX-XXXX", "aria-describedby": "code-hint",
    });
    const submit = h("button", { type: "submit", id: "activate-submit", class: "btn primary" }, "Activate");
    const errSlot = h("div");
    const form = h("form", { id: "activate-form", novalidate: true },
      h("label", { for: "code" }, "Activation code"),
      h("p", { id: "code-hint", class: "hint" }, "It looks like I-7KQ2-M9TX-4HCD. Spaces, dashes and upper or lower case don't matter."),
      h("div", { class: "code-row" }, input, submit));
    const showError = (node, after) => {
      errSlot.replaceChildren(...[node, after].filter(Boolean));
      input.setAttribute("aria-invalid", node ? "true" : "false");
      input.setAttribute("aria-describedby", node ? "code-hint activate-error" : "code-hint");
    };

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const code = input.value.trim();
      if (!code) {
        showError(h("div", { id: "activate-error", class: "notice error", role: "alert", "data-error": "EMPTY" },
          h("p", null, "Enter the activation code you received.")));
        input.focus();
        return;
      }
      run(submit, async () => {
        let r;
        try {
          r = await api("POST", "/v1/redemptions", { code });
        } catch (e) {
          if (!ctx.live()) return;
          ctx.setState("failed");
          const shown = code.toUpperCase();
          const contactSlot = h("div");
          let contact = null;
          const ask = ASK[e.code];
          if (ask && e.license) {
            const [subject, why] = ask(e.license, shown);
            const text = `Hello,\n\nI tried to activate ${e.license.product} for "${e.license.name}" (${e.license.organization}), but ${why}\n\nThank you.`;
            contact = button("Contact the owner", () =>
              openContact(contactSlot, contact, { license: e.license, email: ctx.email, code, subject, text }),
            "btn", { id: "contact-owner", "aria-expanded": "false" });
          } else if (e.code === "EMAIL_NOT_VERIFIED" || e.code === "TOKEN_WITHOUT_EMAIL") {
            contact = ctx.signInButton("Sign in again", "/activate", "sign-in-again");
          } else if (e.code === "EMAIL_DOMAIN_NOT_ALLOWED") {
            contact = button("Switch account", () => run(contact, () => signOut("/activate")), "btn", { id: "switch-account" });
          }
          // When the API named the license, say which one it is about.
          const about = e.license && h("p", { class: "about" }, `${e.license.name} · ${e.license.organization} · ${e.license.product}`);
          showError(h("div", { id: "activate-error", class: "notice error", role: "alert", "data-error": e.code },
            about, h("p", null, errorText(e)), contact && actions(contact)), contactSlot);
          return;
        }
        success(r);
      });
    });

    ctx.show("ready",
      h("h1", null, "Activate Product"),
      h("p", { class: "lead" }, "Enter the activation code from your organization to get a seat on its license."),
      h("div", { class: "card panel" }, errSlot, form));
  }

  function success(r) {
    const l = r.license;
    const email = (r.seat && r.seat.email) || ctx.email;
    ctx.show("success",
      h("div", { class: "card panel" },
        h("p", { class: "tag ok" }, r.alreadyMember ? "Already active" : "Activated"),
        h("h1", null, r.alreadyMember ? `You already have a seat on ${l.name}` : `You have a seat on ${l.name}`),
        h("p", { class: "lead" }, r.alreadyMember
          ? "Nothing changed: this code belongs to a license you already use."
          : `${l.product} is activated for you.`),
        licenseCard(l),
        h("p", { class: "next" }, `Open ${l.product} and sign in as ${email}.`),
        actions(homeLink("Go to My Invitations", "btn primary"), button("Activate another code", () => ready(), "btn"))));
  }

  ready();
}
