// The Contact Owner form (used by My Invitations, Activate Product, invite page).
import { api, enc } from "./api.js";
import { errorText, message } from "./messages.js";
import { h, button, run } from "./ui.js";

// Control characters the API refuses (line breaks only allowed in the message).
const clean = (s, keepBreaks) =>
  s.replace(keepBreaks ? /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]+/g, keepBreaks ? "" : " ");

// Returns a section with form#contact-form and #contact-status. onClose(sent) is
// called when the user closes it; the caller removes it and restores focus.
export function contactForm({ license, email, code, subject = "", text = "", onClose }) {
  const status = h("div", { id: "contact-status", role: "status", tabindex: "-1" });
  const subj = h("input", { id: "contact-subject", name: "subject", type: "text", maxlength: "150", required: true, autocomplete: "off", value: subject });
  const msg = h("textarea", { id: "contact-message", name: "message", rows: "7", maxlength: "5000", required: true, value: text });
  const send = h("button", { type: "submit", id: "contact-send", class: "btn primary" }, "Send message");
  const cancel = button("Cancel", () => onClose(false), "btn", { id: "contact-cancel" });
  const form = h("form", { id: "contact-form", novalidate: true, "aria-labelledby": "contact-title" },
    h("h2", { id: "contact-title" }, `Contact the owner of ${license.name}`),
    h("p", { class: "hint" }, email ? `The owner gets your message by email and replies to ${email}.` : "The owner gets your message by email and replies to your address."),
    h("label", { for: "contact-subject" }, "Subject"), subj,
    h("label", { for: "contact-message" }, "Message"), msg,
    h("div", { class: "actions" }, send, cancel));
  const box = h("section", { class: "contact card" }, form, status);

  const say = (result, text) => {
    status.dataset.result = result;
    status.className = "notice " + (result === "sent" ? "ok" : result === "limited" ? "warn" : "error");
    status.replaceChildren(h("p", null, text));
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (send.disabled) return;
    const s = clean(subj.value, false).trim();
    const m = clean(msg.value, true).trim();
    for (const [el, ok] of [[subj, s], [msg, m]]) el.setAttribute("aria-invalid", ok ? "false" : "true");
    if (!s || !m) {
      say("error", !s ? "Enter a subject for your message." : "Write a message to the owner.");
      (!s ? subj : msg).focus();
      return;
    }
    run(send, async () => {
      const body = { subject: s, message: m };
      if (code) body.code = code;
      try {
        await api("POST", `/v1/licenses/${enc(license.licenseId)}/contact-owner`, body);
      } catch (e) {
        if (e.code === "TOO_MANY_MESSAGES") {
          say("limited", message("TOO_MANY_MESSAGES", { retryAfter: e.retryAfter }));
          send.disabled = true;
          status.focus();
        } else say("error", e.code === "LICENSE_NOT_FOUND"
          ? "You can't write to the owner of this license from this account. Ask the person who gave you the code or invitation instead."
          : errorText(e));
        return;
      }
      form.remove();
      say("sent", `Your message was sent. The owner will reply to ${email || "your email address"}.`);
      box.append(h("div", { class: "actions" }, button("Close", () => onClose(true), "btn", { id: "contact-close" })));
      status.focus();
    });
  });
  return { box, focus: () => subj.focus() };
}

// Opens the form in `slot` from `opener` (one form at a time); a second
// click closes it. Focus goes back to the opener on close.
let current = null;
export function openContact(slot, opener, opts) {
  const was = current;
  if (was) was.close(false);
  if (was && was.slot === slot) return;
  const close = (refocus = true) => {
    slot.replaceChildren();
    opener.setAttribute("aria-expanded", "false");
    if (current && current.slot === slot) current = null;
    if (refocus && opener.isConnected) opener.focus();
  };
  const f = contactForm({ ...opts, onClose: () => close() });
  slot.replaceChildren(f.box);
  opener.setAttribute("aria-expanded", "true");
  current = { slot, close };
  f.focus();
}
