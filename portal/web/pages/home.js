// "/" My Invitations: the licenses I hold a seat on, pending invitations to
// my verified email, paging, Leave and Contact Owner.
import { api, enc } from "../api.js";
import { errorText } from "../messages.js";
import { openContact } from "../contact.js";
import { h, newId, fmtDate, expiryText, seatsText, facts, seatBar, actions, button, run, announce, confirmDialog } from "../ui.js";

const LIMIT = 20;
const ROLE = { member: "Member", admin: "Admin", owner: "Owner" };

export default async function home(ctx) {
  ctx.title("My Invitations");
  if (!ctx.user)
    return ctx.signedOut("My Invitations", "Sign in to see the licenses you have a seat on and the invitations waiting for you.");

  let cursor = null;
  let grid, pendingList, pendingSection, manageSection;

  const cardError = (card, e, text) => {
    card.querySelector(".card-error")?.remove();
    card.append(h("p", { class: "card-error notice error", role: "alert" }, text || errorText(e)));
  };

  // After a card went away: focus a neighbour (or the h1) and announce.
  const removed = (card, text) => {
    const next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    if (pendingSection && !pendingList.firstChild) pendingSection.remove();
    if (!grid.firstChild && !pendingList?.firstChild && !cursor) {
      empty();
    } else {
      const target = next ? next.querySelector("h3") : document.querySelector("#main h1");
      target?.focus();
    }
    announce(text);
  };

  function licenseCard(l) {
    const id = newId("lic");
    const slot = h("div");
    const card = h("article", { class: "card license-card", "data-license-id": l.licenseId, "aria-labelledby": id },
      h("h3", { id, tabindex: "-1" }, l.name),
      h("p", { class: "org" }, l.organization),
      facts([
        ["Product", l.product],
        ["Seats", seatsText(l)],
        ["License", expiryText(l.expiresAt)],
        ["Your role", ROLE[l.role] || l.role],
      ]),
      seatBar(l),
      h("p", { class: "meta" }, `Joined with ${l.joinedVia === "code" ? "a code" : "an invitation"} on ${fmtDate(l.joinedAt)}`));
    const contact = button("Contact owner", () => openContact(slot, contact, { license: l, email: ctx.email }),
      "btn contact-owner", { "aria-expanded": "false", "aria-describedby": id });
    const leave = button("Leave", async () => {
      const yes = await confirmDialog({
        title: `Leave ${l.name}?`,
        text: `You give up your seat and can no longer use ${l.product} through this license. To come back you need a new code or invitation, and a free seat.`,
        yes: "Leave license",
        no: "Stay",
      });
      if (!yes) return;
      await run(leave, async () => {
        try {
          await api("DELETE", `/v1/me/licenses/${enc(l.licenseId)}`);
          removed(card, `You left ${l.name}. Your seat is free again.`);
        } catch (e) {
          if (e.code === "LICENSE_NOT_FOUND") removed(card, `You no longer have a seat on ${l.name}.`);
          else cardError(card, e);
        }
      });
    }, "btn quiet-danger leave", { "aria-describedby": id });
    card.append(actions(l.role === "owner" ? null : contact, leave), slot);
    return card;
  }

  function pendingCard(p) {
    const L = p.license || {};
    const id = newId("inv");
    const card = h("article", { class: "card pending-card", "data-invitation-id": p.invitationId, "aria-labelledby": id },
      h("p", { class: "tag" }, "Invitation"),
      h("h3", { id, tabindex: "-1" }, L.name),
      h("p", { class: "org" }, L.organization),
      facts([
        ["Product", L.product],
        ["Sent to", p.email],
        ["Invitation", p.expiresAt ? `Open until ${fmtDate(p.expiresAt)}` : "Does not expire"],
        ["License", expiryText(L.expiresAt)],
      ]));
    const path = `/v1/me/invitations/${enc(p.invitationId)}`;
    const explain = (e) => (e.code === "ROUTE_NOT_FOUND" || e.code === "METHOD_NOT_ALLOWED"
      ? "This can't be done from here yet. Open the link in your invitation email instead."
      : errorText(e, { domains: L.allowedEmailDomains }));
    const accept = button("Accept", () => run(accept, async () => {
      try {
        await api("POST", path + "/accept");
      } catch (e) {
        return cardError(card, e, explain(e));
      }
      await load();
      announce(`You joined ${L.name}. Open ${L.product} and sign in as ${ctx.email}.`);
    }), "btn primary accept", { "aria-describedby": id });
    const decline = button("Decline", async () => {
      const yes = await confirmDialog({
        title: `Decline the invitation to ${L.name}?`,
        text: "You will not get a seat through this invitation, and it can't be used afterwards.",
        yes: "Decline invitation",
        no: "Keep it",
      });
      if (!yes) return;
      await run(decline, async () => {
        try {
          await api("POST", path + "/decline");
          removed(card, `You declined the invitation to ${L.name}.`);
        } catch (e) {
          if (e.code === "INVITE_ALREADY_USED") removed(card, "That invitation was no longer open.");
          else cardError(card, e, explain(e));
        }
      });
    }, "btn decline", { "aria-describedby": id });
    card.append(actions(accept, decline));
    return card;
  }

  function empty() {
    ctx.show("empty",
      h("h1", null, "My Invitations"),
      h("div", { class: "card panel" },
        h("h2", null, "You have no licenses yet"),
        h("p", null, "There are two ways to get a seat on a license:"),
        h("ul", { class: "steps" },
          h("li", null, h("strong", null, "You have an activation code? "), "Enter it on Activate Product."),
          h("li", null, h("strong", null, "You were invited by email? "),
            `Open the link in the invitation email. Invitations sent to ${ctx.email || "your address"} also show up here.`)),
        actions(h("a", { href: "/activate", class: "btn primary" }, "Activate Product"))),
      manageSection);
  }

  const more = button("Load more", () => run(more, async () => {
    const status = more.nextElementSibling;
    let page;
    try {
      page = await api("GET", `/v1/me/invitations?limit=${LIMIT}&cursor=${enc(cursor)}`);
    } catch (e) {
      status.textContent = errorText(e);
      return;
    }
    status.textContent = "";
    const cards = (page.licenses || []).map(licenseCard);
    grid.append(...cards);
    cursor = page.nextCursor || null;
    if (!cursor) more.parentElement.remove();
    cards[0]?.querySelector("h3").focus();
    announce(cards.length === 1 ? "1 more license shown." : `${cards.length} more licenses shown.`);
  }), "btn", { id: "load-more" });

  async function load() {
    ctx.loading("Loading your licenses…");
    let page;
    // The licenses the caller manages come along; without them the page
    // still works, so their failure is not the page's.
    const managing = api("GET", "/v1/licenses?limit=100").then((p) => p.licenses || [], () => []);
    try {
      page = await api("GET", `/v1/me/invitations?limit=${LIMIT}`);
    } catch (e) {
      return ctx.fail(e, load, "We could not load your licenses");
    }
    const managed = await managing;
    const licenses = page.licenses || [];
    const pending = page.pending || [];
    cursor = page.nextCursor || null;
    manageSection = managed.length
      ? h("section", { "aria-labelledby": "managed-title", class: "managed" },
          h("h2", { id: "managed-title" }, "Licenses you manage"),
          h("ul", { class: "managed-list" }, managed.map((l) => h("li", null,
            h("a", { href: `/manage/${enc(l.licenseId)}`, class: "manage-link", "data-license-id": l.licenseId }, l.name),
            h("span", { class: "muted" }, ` · ${seatsText(l)} · ${ROLE[l.role] || l.role}`)))),
          managed.length > 1 ? h("p", null, h("a", { href: "/manage" }, "All licenses you manage")) : null)
      : null;
    if (!licenses.length && !pending.length && !cursor) return empty();

    pendingList = h("div", { class: "cards" }, pending.map(pendingCard));
    pendingSection = pending.length
      ? h("section", { "aria-labelledby": "pending-title" },
          h("h2", { id: "pending-title" }, "Invitations waiting for you"), pendingList)
      : null;
    grid = h("div", { class: "cards" }, licenses.map(licenseCard));
    ctx.show("list",
      h("h1", null, "My Invitations"),
      h("p", { class: "lead" }, "The licenses you have a seat on, and invitations waiting for your answer."),
      manageSection,
      pendingSection,
      h("section", { "aria-labelledby": "licenses-title" },
        h("h2", { id: "licenses-title" }, "Your licenses"),
        licenses.length ? null : h("p", null, "You have no seat yet. Accept an invitation above, or use an activation code on Activate Product."),
        grid,
        cursor && h("div", { class: "more" }, more, h("p", { class: "hint", role: "status" }))));
  }

  await load();
}
