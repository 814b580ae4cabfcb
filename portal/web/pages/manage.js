// "/manage" the licenses I own or administer, and "/manage/<licenseId>" one
// of them: overview, codes, seats and activity (`?view=`). Everything here
// is the admin API (docs/openapi.yaml); someone who is neither owner nor
// admin gets the API's "not found", never a hint that the license exists.
import { api, enc } from "../api.js";
import { errorText } from "../messages.js";
import {
  h, newId, fmtDate, expiryText, seatsText, facts, seatBar, actions, button, run, announce,
  confirmButton, isPast,
} from "../ui.js";

const ROLE = { admin: "Admin", owner: "Owner" };
const VIEWS = [
  ["overview", "Overview"],
  ["codes", "Codes"],
  ["invitations", "Invitations"],
  ["seats", "Seats"],
  ["activity", "Activity"],
  ["demand", "Demand"],
];
const PAGE = 50;

export default async function manage(ctx) {
  if (!ctx.user) {
    ctx.title("Manage licenses");
    return ctx.signedOut("Manage licenses", "Sign in to manage the licenses you own or administer.");
  }
  const [licenseId] = ctx.params;
  return licenseId ? licensePage(ctx, decodeURIComponent(licenseId)) : listPage(ctx);
}

// ---------------------------------------------------------------- the list

async function listPage(ctx) {
  ctx.title("Manage licenses");
  ctx.loading("Loading the licenses you manage…");
  let licenses = [];
  try {
    let cursor = null;
    do {
      const page = await api("GET", `/v1/licenses?limit=100${cursor ? "&cursor=" + enc(cursor) : ""}`);
      licenses = licenses.concat(page.licenses || []);
      cursor = page.nextCursor || null;
    } while (cursor && licenses.length < 1000);
  } catch (e) {
    return ctx.fail(e, () => listPage(ctx), "We could not load the licenses you manage");
  }
  if (!licenses.length) {
    return ctx.show("empty",
      h("h1", null, "Manage licenses"),
      h("div", { class: "card panel" },
        h("h2", null, "You manage no license"),
        h("p", null, "When a license's owner makes you one of its admins, it shows up here."),
        actions(h("a", { href: "/", class: "btn" }, "Go to My Invitations"))));
  }
  ctx.show("list",
    h("h1", null, "Manage licenses"),
    h("p", { class: "lead" }, "The licenses you own or administer: codes, invitations, seats and activity."),
    h("div", { class: "cards" }, licenses.map((l) => {
      const id = newId("mlic");
      return h("article", { class: "card managed-card", "data-license-id": l.licenseId, "aria-labelledby": id },
        h("h2", { id, class: "card-h" }, l.name),
        h("p", { class: "org" }, l.organization),
        facts([["Product", l.product], ["Seats", seatsText(l)], ["License", expiryText(l.expiresAt)], ["Your role", ROLE[l.role] || l.role]]),
        seatBar(l),
        actions(h("a", { href: manageUrl(l.licenseId), class: "btn primary manage", "aria-describedby": id }, "Manage")));
    })));
}

export const manageUrl = (licenseId, view) =>
  `/manage/${enc(licenseId)}${view && view !== "overview" ? "?view=" + view : ""}`;

// ---------------------------------------------------------------- one license

async function licensePage(ctx, licenseId) {
  ctx.title("Manage license");
  ctx.loading("Loading the license…");
  let license;
  try {
    license = await api("GET", `/v1/licenses/${enc(licenseId)}`);
  } catch (e) {
    if (e.code === "LICENSE_NOT_FOUND") {
      ctx.title("License not found");
      return ctx.show("not-found", h("div", { class: "card panel" },
        h("h1", null, "License not found"),
        h("p", { class: "lead" }, "There is no such license, or you are not one of its admins."),
        actions(h("a", { href: "/manage", class: "btn primary" }, "Licenses you manage"))));
    }
    return ctx.fail(e, () => licensePage(ctx, licenseId), "We could not load this license");
  }
  ctx.title(`Manage ${license.name}`);
  const view = () => {
    const v = new URLSearchParams(location.search).get("view");
    return VIEWS.some(([k]) => k === v) ? v : "overview";
  };
  const body = h("div", { id: "view" });
  const tabs = h("nav", { class: "tabs", "aria-label": "License sections" },
    h("ul", null, VIEWS.map(([key, label]) => h("li", null,
      h("a", { href: manageUrl(licenseId, key), "data-view": key, id: "tab-" + key, onclick: (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        if (key === view()) return;
        history.pushState(null, "", manageUrl(licenseId, key));
        select(true);
      } }, label)))));
  const heading = h("h1", null, license.name);
  // `fresh`: the license was just read; the overview need not read it again.
  const state = { license, licenseId, ctx, fresh: true };

  // A section reports its state on <main data-state> so tests and the
  // usable-time mark see it.
  async function select(focus) {
    const key = view();
    for (const a of tabs.querySelectorAll("a")) {
      if (a.dataset.view === key) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    body.replaceChildren(h("p", { class: "loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Loading…"));
    ctx.setState("loading-" + key);
    await SECTIONS[key](state, body);
    if (!ctx.live()) return;
    ctx.setState(key);
    if (focus) body.querySelector("h2")?.focus();
  }

  ctx.show("overview",
    h("p", { class: "crumbs" }, h("a", { href: "/manage" }, "Licenses you manage")),
    heading,
    h("p", { class: "lead" }, `${license.organization} · ${license.product}`),
    tabs,
    body);
  addEventListener("popstate", function onPop() {
    if (!body.isConnected) return removeEventListener("popstate", onPop);
    select(true);
  });
  await select(false);
}

const SECTIONS = { overview, codes, invitations, seats, activity, demand };

function sectionTitle(text) {
  return h("h2", { tabindex: "-1", class: "section-title" }, text);
}

function errorNotice(e, extra) {
  return h("div", { class: "notice error", role: "alert", "data-error": e.code || "INTERNAL_ERROR" }, h("p", null, errorText(e)), extra);
}

// Refreshes the license (seat count) after a change elsewhere on the page.
async function reloadLicense(state) {
  try {
    state.license = await api("GET", `/v1/licenses/${enc(state.licenseId)}`);
  } catch { /* the figure stays as it was */ }
}

// ---------------------------------------------------------------- overview

async function overview(state, body) {
  if (!state.fresh) await reloadLicense(state);
  state.fresh = false;
  const l = state.license;
  const admins = (l.admins || []).map((a) => h("li", null, a.email, h("span", { class: "muted" }, ` (${ROLE[a.role] || a.role})`)));
  body.replaceChildren(
    h("section", { class: "card", "aria-labelledby": "ov-title" },
      h("h2", { id: "ov-title", tabindex: "-1", class: "section-title" }, "Overview"),
      facts([
        ["Name", l.name],
        ["Organization", l.organization],
        ["Product", l.product],
        ["Seats", seatsText(l)],
        ["License", expiryText(l.expiresAt)],
        ["Email domains", l.allowedEmailDomains && l.allowedEmailDomains.length
          ? l.allowedEmailDomains.map((d) => "@" + d).join(", ") : "Any address"],
        ["Your role", ROLE[l.role] || l.role],
      ]),
      seatBar(l),
      admins.length ? h("div", { class: "admins" }, h("h3", null, "Owner and admins"), h("ul", { id: "admins" }, admins)) : null));
}

// ---------------------------------------------------------------- codes

function codeStatus(c) {
  if (c.revoked) return ["Revoked", "bad"];
  if (isPast(c.expiresAt)) return ["Expired", ""];
  if (c.maxUses != null && c.uses >= c.maxUses) return ["Used up", ""];
  return ["Active", "ok"];
}

async function codes(state, body) {
  const { licenseId } = state;
  const created = h("div", { id: "code-created" });
  const formErr = h("div");
  const maxUses = h("input", { id: "code-max-uses", type: "number", min: "1", step: "1", inputmode: "numeric", "aria-describedby": "code-max-uses-hint" });
  const expires = h("input", { id: "code-expires", type: "date", "aria-describedby": "code-expires-hint" });
  const note = h("input", { id: "code-note", type: "text", maxlength: "200", autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "btn primary", id: "code-create" }, "Create code");
  const form = h("form", { id: "code-form", novalidate: true },
    h("div", { class: "fields" },
      h("div", null, h("label", { for: "code-max-uses" }, "Maximum uses"),
        h("p", { class: "hint", id: "code-max-uses-hint" }, "Empty: limited only by free seats."), maxUses),
      h("div", null, h("label", { for: "code-expires" }, "Valid until"),
        h("p", { class: "hint", id: "code-expires-hint" }, "Empty: never expires. Ends at midnight UTC."), expires),
      h("div", null, h("label", { for: "code-note" }, "Note (only admins see it)"),
        h("p", { class: "hint" }, "For example: Lecture hall A, autumn term."), note)),
    actions(submit));
  const list = h("div", { id: "code-list" });

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const req = {};
    const m = maxUses.value.trim();
    if (m) {
      if (!/^\d+$/.test(m) || Number(m) < 1) {
        formErr.replaceChildren(h("div", { class: "notice error", role: "alert", "data-error": "MAX_USES" }, h("p", null, "Maximum uses must be a whole number of at least 1, or empty.")));
        maxUses.setAttribute("aria-invalid", "true");
        return maxUses.focus();
      }
      req.maxUses = Number(m);
    }
    maxUses.removeAttribute("aria-invalid");
    if (expires.value) {
      const at = new Date(expires.value + "T23:59:59Z");
      if (isNaN(at) || at <= new Date()) {
        formErr.replaceChildren(h("div", { class: "notice error", role: "alert", "data-error": "EXPIRES" }, h("p", null, "The end date must be in the future, or empty.")));
        expires.setAttribute("aria-invalid", "true");
        return expires.focus();
      }
      req.expiresAt = at.toISOString().replace(".000Z", "Z");
    }
    expires.removeAttribute("aria-invalid");
    if (note.value.trim()) req.note = note.value.trim();
    run(submit, async () => {
      let c;
      try {
        c = await api("POST", `/v1/licenses/${enc(licenseId)}/codes`, req);
      } catch (e) {
        return formErr.replaceChildren(errorNotice(e));
      }
      formErr.replaceChildren();
      form.reset();
      const [codeText, copy] = copyable(c.code, "code", { id: "new-code", class: "new-code" }, "copy-code");
      created.replaceChildren(h("div", { class: "notice ok", role: "status" },
        h("p", { class: "about" }, "Code created"),
        h("p", { class: "code-line" }, codeText, copy),
        h("p", null, "Copy it now: this is the only time the whole code is shown. Students type it into Activate Product.")));
      await loadList();
      codeText.focus();
    });
  });

  let cursor = null;
  async function loadList(more = false) {
    let page;
    try {
      page = await api("GET", `/v1/licenses/${enc(licenseId)}/codes?limit=${PAGE}${more && cursor ? "&cursor=" + enc(cursor) : ""}`);
    } catch (e) {
      return list.replaceChildren(errorNotice(e, actions(button("Try again", () => loadList(more), "btn", { id: "codes-retry" }))));
    }
    cursor = page.nextCursor || null;
    const rows = (page.codes || []).map(codeRow);
    let tbody = list.querySelector("tbody");
    if (!more || !tbody) {
      if (!rows.length) return list.replaceChildren(h("p", { class: "empty-note" }, "No codes yet. Create the first one above."));
      tbody = h("tbody");
      list.replaceChildren(table(["Code", "Note", "Uses", "Status", "Valid until", "Created", ""], tbody));
    }
    tbody.append(...rows);
    list.querySelector(".more")?.remove();
    if (cursor) list.append(moreButton(() => loadList(true), "codes-more"));
  }

  function codeRow(c) {
    const [status, tone] = codeStatus(c);
    const revoke = c.revoked ? null : confirmButton("Revoke", {
      title: `Revoke the code ending in ${c.last4}?`,
      text: "Nobody can join with it any more. Members who joined with it keep their seats.",
      yes: "Revoke code",
      no: "Keep it",
    }, async () => {
      try {
        await api("DELETE", `/v1/licenses/${enc(licenseId)}/codes/${enc(c.codeId)}`);
      } catch (e) {
        return announce(errorText(e));
      }
      const fresh = codeRow({ ...c, revoked: true });
      tr.replaceWith(fresh);
      fresh.querySelector("td")?.focus();
      announce(`The code ending in ${c.last4} is revoked.`);
    }, "btn small quiet-danger revoke", { "aria-label": `Revoke the code ending in ${c.last4}` });
    const tr = h("tr", { "data-code-id": c.codeId },
      cell("Code", h("span", { class: "mono" }, "…" + c.last4), { tabindex: "-1" }),
      cell("Note", c.note || "—"),
      cell("Uses", c.maxUses != null ? `${c.uses} of ${c.maxUses}` : `${c.uses} (no limit)`),
      cell("Status", h("span", { class: "tag " + tone }, status)),
      cell("Valid until", c.expiresAt ? fmtDate(c.expiresAt) : "No end"),
      cell("Created", fmtDate(c.createdAt)),
      cell("", revoke));
    return tr;
  }

  body.replaceChildren(
    h("section", { "aria-labelledby": "codes-title" },
      h("h2", { id: "codes-title", tabindex: "-1", class: "section-title" }, "Codes"),
      h("div", { class: "card" }, h("h3", null, "Create a code"), created, formErr, form),
      h("h3", { class: "list-title" }, "All codes"),
      list));
  await loadList();
}

// ---------------------------------------------------------------- invitations

// The API takes at most this many addresses per call.
const PER_CALL = 100;
// Lenient on purpose: the API decides; this only keeps a typo from
// refusing a whole call of 100.
const EMAIL = /^[^\s@,;<>"()]+@[^\s@,;<>"()]+\.[^\s@,;<>"()]+$/;

// Addresses from pasted text or a CSV file: any cell or token that looks
// like one ("Name <a@b.edu>" included), lower-cased, duplicates merged.
export function addressesIn(text) {
  const seen = new Set();
  const good = [];
  const bad = [];
  for (let raw of String(text).split(/[\s,;]+/)) {
    raw = raw.replace(/^["'<(]+|[">)'.]+$/g, "").trim();
    if (!raw || !raw.includes("@")) continue;
    const email = raw.toLowerCase();
    if (seen.has(email)) continue;
    seen.add(email);
    (EMAIL.test(email) ? good : bad).push(email);
  }
  return { good, bad };
}

const DELIVERY = {
  queued: ["Queued: the email goes out in a moment", "ok"],
  alreadyInvited: ["Not sent again: already invited", ""],
  sent: ["Sent", "ok"],
  alreadyMember: ["Already a member", ""],
  invalid: ["Invalid address", "bad"],
  failed: ["Failed: not delivered, invitation withdrawn", "bad"],
  suppressed: ["Not sent: this address bounced or complained before", "bad"],
  quotaExceeded: ["Not sent: the invitation-mail quota is used up", "bad"],
  notSent: ["Not sent", "bad"],
  unknown: ["Unknown: check the pending list before sending again", "warn"],
};

// An invitation's own mail, as the list shows it.
const MAIL = {
  queued: ["Queued", "warn"],
  sending: ["Sending", "warn"],
  sent: ["Sent", "ok"],
  failed: ["Failed", "bad"],
  notSent: ["Not sent", "bad"],
  unknown: ["Unknown", "warn"],
};

const STATUS = { pending: "Pending", accepted: "Accepted", declined: "Declined", revoked: "Revoked", expired: "Expired" };

async function invitations(state, body) {
  const { licenseId } = state;
  const path = `/v1/licenses/${enc(licenseId)}/invitations`;

  // -- invite by email
  const text = h("textarea", { id: "invite-emails", rows: "5", "aria-describedby": "invite-emails-hint",
    placeholder: "ann@uni.edu, bob@uni.edu\ncy@uni.edu" });
  const file = h("input", { id: "invite-file", type: "file", accept: ".csv,.txt,text/csv,text/plain", "aria-describedby": "invite-file-hint" });
  const days = h("input", { id: "invite-days", type: "number", min: "1", max: "365", step: "1", value: "14", inputmode: "numeric" });
  const send = h("button", { type: "submit", class: "btn primary", id: "invite-send" }, "Send invitations");
  const progress = h("div", { id: "invite-progress", hidden: true },
    h("label", { for: "invite-bar" }, "Sending"),
    h("progress", { id: "invite-bar", max: "1", value: "0" }),
    h("p", { class: "hint", id: "invite-progress-text", role: "status" }));
  const formErr = h("div");
  const results = h("div", { id: "invite-results" });
  const form = h("form", { id: "invite-form", novalidate: true },
    h("label", { for: "invite-emails" }, "Email addresses"),
    h("p", { class: "hint", id: "invite-emails-hint" }, "Paste them separated by commas, spaces or new lines, or add a CSV file below. Each address gets its own invitation link."),
    text,
    h("label", { for: "invite-file" }, "Or a CSV file"),
    h("p", { class: "hint", id: "invite-file-hint" }, "Every address found in the file is added to the list above."),
    file,
    h("div", { class: "fields" }, h("div", null, h("label", { for: "invite-days" }, "Valid for (days)"), days)),
    actions(send), progress);

  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    const found = addressesIn(await f.text());
    const all = addressesIn(text.value + "\n" + found.good.concat(found.bad).join("\n"));
    text.value = all.good.concat(all.bad).join("\n");
    announce(`${found.good.length + found.bad.length} addresses added from ${f.name}.`);
  });

  function validDays() {
    const d = days.value.trim();
    if (!/^\d+$/.test(d) || Number(d) < 1 || Number(d) > 365) {
      formErr.replaceChildren(h("div", { class: "notice error", role: "alert", "data-error": "DAYS" }, h("p", null, "Valid for must be a whole number of days from 1 to 365.")));
      days.setAttribute("aria-invalid", "true");
      days.focus();
      return null;
    }
    days.removeAttribute("aria-invalid");
    return Number(d);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const { good, bad } = addressesIn(text.value);
    if (!good.length && !bad.length) {
      formErr.replaceChildren(h("div", { class: "notice error", role: "alert", "data-error": "EMPTY" }, h("p", null, "Enter at least one email address.")));
      return text.focus();
    }
    const expiresInDays = validDays();
    if (!expiresInDays) return;
    formErr.replaceChildren();
    run(send, () => sendAll(good, bad, expiresInDays));
  });

  // Sends in calls of PER_CALL with a progress bar; every address ends
  // with what became of it, and nothing not sent is shown as sent.
  async function sendAll(good, bad, expiresInDays) {
    const outcome = new Map(bad.map((e) => [e, ["invalid"]]));
    const bar = progress.querySelector("progress");
    const line = progress.querySelector("p");
    progress.hidden = false;
    progress.querySelector("label").textContent = "Sending";
    bar.max = Math.max(1, good.length);
    bar.value = 0;
    let stop = null;
    const post = (emails) => api("POST", path, { emails, expiresInDays });
    for (let i = 0; i < good.length; i += PER_CALL) {
      const chunk = good.slice(i, i + PER_CALL);
      line.textContent = `Sending ${Math.min(i + chunk.length, good.length)} of ${good.length}…`;
      if (stop) {
        chunk.forEach((e) => outcome.set(e, stop));
      } else {
        try {
          const r = await post(chunk);
          for (const o of r.invitations || []) outcome.set(o.email, [o.delivery, o.retryAfter]);
        } catch (e) {
          if (e.code === "INVALID_REQUEST") {
            // One address the API does not take refuses the whole call:
            // find it by sending this call's addresses one by one.
            for (const one of chunk) {
              try {
                const r = await post([one]);
                for (const o of r.invitations || []) outcome.set(o.email, [o.delivery, o.retryAfter]);
              } catch (e1) {
                outcome.set(one, e1.code === "INVALID_REQUEST" ? ["invalid"] : failure(e1));
              }
            }
          } else {
            const f = failure(e);
            chunk.forEach((x) => outcome.set(x, f));
            // A quota or a refused session ends the run: the rest would fare the same.
            if (e.code === "INVITATION_QUOTA_EXCEEDED" || e.code === "LICENSE_NOT_FOUND" || e.code === "UNAUTHENTICATED") stop = f;
          }
        }
      }
      bar.value = Math.min(i + chunk.length, good.length);
    }
    const counts = {};
    for (const [d] of outcome.values()) counts[d] = (counts[d] || 0) + 1;
    progress.querySelector("label").textContent = "Done";
    line.textContent = `Done: ${counts.queued || 0} of ${good.length + bad.length} addresses invited; their emails are on their way.`;
    const order = bad.concat(good);
    results.replaceChildren(
      h("h3", { tabindex: "-1", id: "invite-results-title" }, "Result per address"),
      h("p", { class: "hint", id: "invite-summary" }, Object.entries(counts).map(([d, n]) => `${DELIVERY[d][0].split(":")[0]}: ${n}`).join(" · ")),
      table(["Address", "Result"], h("tbody", null, order.map((email) => {
        const [d, retryAfter] = outcome.get(email) || ["unknown"];
        const [label, tone] = DELIVERY[d] || [d, ""];
        return h("tr", { "data-email": email, "data-delivery": d },
          cell("Address", email),
          cell("Result", h("span", { class: "tag " + tone }, label + (d === "quotaExceeded" && retryAfter ? ` (${Math.ceil(retryAfter / 3600)} h)` : ""))));
      }))));
    // What is left in the box is what may need another try.
    text.value = order.filter((e) => !["queued", "alreadyInvited", "alreadyMember"].includes((outcome.get(e) || [])[0])).join("\n");
    results.querySelector("h3").focus();
    announce(line.textContent);
    await loadList();
    // The list shows each email's progress: look again while any is on its way.
    for (let i = 0; i < 5 && list.querySelector('tr[data-delivery="queued"], tr[data-delivery="sending"]'); i++) {
      await new Promise((ok) => setTimeout(ok, 1500));
      await loadList();
    }
  }

  // What a failed call means for its addresses.
  function failure(e) {
    if (e.code === "INVITATION_QUOTA_EXCEEDED") return ["quotaExceeded", e.retryAfter];
    if (e.code === "SERVICE_UNAVAILABLE" && e.outcome === "unknown") return ["unknown"];
    if (e.status === 0 || e.status >= 500) return e.outcome === "unchanged" ? ["notSent"] : ["unknown"];
    return ["notSent"];
  }

  // -- open link
  const linkSlot = h("div", { id: "open-link" });
  const linkBtn = button("Create an open link", () => run(linkBtn, async () => {
    const expiresInDays = validDays();
    if (!expiresInDays) return;
    let r;
    try {
      r = await api("POST", path, { expiresInDays });
    } catch (e) {
      return linkSlot.replaceChildren(errorNotice(e));
    }
    const [url, copy] = copyable(r.url, "link", { id: "open-link-url", class: "link-url" }, "copy-link");
    linkSlot.replaceChildren(h("div", { class: "notice ok", role: "status" },
      h("p", { class: "about" }, "Open link created"),
      h("p", { class: "code-line" }, url, copy),
      h("p", null, `Anyone signed in who opens it can take one seat, once, until ${fmtDate(r.invitation.expiresAt)}. This is the only time the link is shown.`)));
    url.focus();
    await loadList();
  }), "btn", { id: "open-link-create" });

  // -- the list, by status
  const status = h("select", { id: "invite-status" },
    h("option", { value: "pending" }, "Pending"),
    ["accepted", "declined", "expired", "revoked"].map((s) => h("option", { value: s }, STATUS[s])),
    h("option", { value: "" }, "All"));
  const list = h("div", { id: "invite-list" });
  let cursor = null;
  async function loadList(more = false) {
    const q = `limit=${PAGE}${status.value ? "&status=" + status.value : ""}${more && cursor ? "&cursor=" + enc(cursor) : ""}`;
    let page;
    try {
      page = await api("GET", `${path}?${q}`);
    } catch (e) {
      return list.replaceChildren(errorNotice(e));
    }
    cursor = page.nextCursor || null;
    const rows = (page.invitations || []).map(invRow);
    let tbody = list.querySelector("tbody");
    if (!more || !tbody) {
      if (!rows.length) return list.replaceChildren(h("p", { class: "empty-note" }, `No ${status.value ? STATUS[status.value].toLowerCase() + " " : ""}invitations.`));
      tbody = h("tbody");
      list.replaceChildren(table(["Sent to", "Status", "Email", "Valid until", "Created", ""], tbody));
    }
    tbody.append(...rows);
    list.querySelector(".more")?.remove();
    if (cursor) list.append(moreButton(() => loadList(true), "invites-more"));
  }
  status.addEventListener("change", () => loadList());

  function invRow(inv) {
    const who = inv.email || "Open link";
    const open = inv.status === "pending" || inv.status === "expired";
    const rowErr = (e) => announce(errorText(e));
    const resend = open && inv.email ? button("Resend", () => run(resend, async () => {
      try {
        const fresh = await api("POST", `${path}/${enc(inv.invitationId)}/resend`);
        const r = invRow({ ...inv, ...fresh });
        tr.replaceWith(r);
        announce(`The invitation was sent again to ${inv.email}.`);
      } catch (e) {
        rowErr(e);
      }
    }), "btn small resend", { "aria-label": `Resend the invitation to ${who}` }) : null;
    const revoke = open ? confirmButton("Revoke", {
      title: `Revoke the invitation ${inv.email ? "to " + inv.email : "(open link)"}?`,
      text: "Its link stops working at once. Seats already taken stay.",
      yes: "Revoke invitation",
      no: "Keep it",
    }, async () => {
      try {
        await api("DELETE", `${path}/${enc(inv.invitationId)}`);
      } catch (e) {
        return rowErr(e);
      }
      const r = invRow({ ...inv, status: "revoked" });
      tr.replaceWith(r);
      announce(`The invitation ${inv.email ? "to " + inv.email : ""} is revoked.`);
    }, "btn small quiet-danger revoke", { "aria-label": `Revoke the invitation to ${who}` }) : null;
    const tone = { pending: "ok", accepted: "ok", revoked: "bad" }[inv.status] || "";
    const [mail, mailTone] = MAIL[inv.delivery] || ["\u2014", ""];
    const tr = h("tr", { "data-invitation-id": inv.invitationId, "data-status": inv.status, "data-email": inv.email || "", "data-delivery": inv.delivery || "" },
      cell("Sent to", who),
      cell("Status", h("span", { class: "tag " + tone }, STATUS[inv.status] || inv.status)),
      cell("Email", inv.delivery ? h("span", { class: "tag " + mailTone, title: inv.delivery === "unknown" ? "The sender stopped while handing this email to the mail service: it may or may not have arrived. It is not sent again; resend if the invitee has nothing." : null }, mail) : mail),
      cell("Valid until", inv.expiresAt ? fmtDate(inv.expiresAt) : "No end"),
      cell("Created", fmtDate(inv.createdAt)),
      cell("", h("span", { class: "row-actions" }, resend, revoke)));
    return tr;
  }

  body.replaceChildren(
    h("section", { "aria-labelledby": "invitations-title" },
      h("h2", { id: "invitations-title", tabindex: "-1", class: "section-title" }, "Invitations"),
      h("div", { class: "card" }, h("h3", null, "Invite by email"), formErr, form, results),
      h("div", { class: "card spaced" }, h("h3", null, "Open invite link"),
        h("p", { class: "hint" }, "A link anyone signed in can use once, for example in a course forum. It takes its validity from \u201cValid for\u201d above."),
        actions(linkBtn), linkSlot),
      h("div", { class: "toolbar list-title" },
        h("div", null, h("label", { for: "invite-status" }, "Show invitations"), status)),
      list));
  await loadList();
}

// ---------------------------------------------------------------- seats

async function seats(state, body) {
  const { licenseId } = state;
  state.fresh = false;
  let all = [];
  let cursor = null;
  let done = false;
  const summary = h("p", { id: "seat-summary", class: "hint", role: "status" });
  const list = h("div", { id: "seat-list" });
  const search = h("input", { id: "seat-search", type: "search", autocomplete: "off", placeholder: "name@uni.edu", "aria-describedby": "seat-summary" });
  const loadAll = button("Load all seats", () => run(loadAll, async () => { await fetchAll(); draw(); }), "btn small", { id: "seats-all" });
  const exportBtn = button("Export CSV", () => run(exportBtn, async () => {
    if (!(await fetchAll())) return;
    draw();
    download(`seats-${licenseId}.csv`, csv(["email", "userId", "joinedAt", "joinedVia"],
      all.map((s) => [s.email, s.userId, s.joinedAt, s.joinedVia])));
    announce(`Exported ${all.length} seats.`);
  }), "btn small", { id: "seats-export" });
  const err = h("div");

  async function fetchPage() {
    const page = await api("GET", `/v1/licenses/${enc(licenseId)}/seats?limit=100${cursor ? "&cursor=" + enc(cursor) : ""}`);
    all = all.concat(page.seats || []);
    cursor = page.nextCursor || null;
    done = !cursor;
  }
  async function fetchAll() {
    try {
      while (!done) await fetchPage();
      err.replaceChildren();
      return true;
    } catch (e) {
      err.replaceChildren(errorNotice(e));
      return false;
    }
  }

  function draw() {
    drawnFor = search.value;
    const q = search.value.trim().toLowerCase();
    const shown = q ? all.filter((s) => s.email.toLowerCase().includes(q)) : all;
    const l = state.license;
    summary.textContent = (q ? `${shown.length} of ${all.length} loaded seats match “${search.value.trim()}”.` : `${seatsText(l)}.`)
      + (done ? "" : " Not every seat is loaded yet: load all to search or export them all.");
    loadAll.hidden = done;
    if (!all.length) return list.replaceChildren(h("p", { class: "empty-note" }, "Nobody holds a seat yet."));
    if (!shown.length) return list.replaceChildren(h("p", { class: "empty-note" }, "No seat matches that address."));
    list.replaceChildren(table(["Email", "Joined", "Joined with", ""], h("tbody", null, shown.map(seatRow))));
  }

  function seatRow(s) {
    const remove = confirmButton("Remove", {
      title: `Remove ${s.email}?`,
      text: `${s.email} loses the seat at once and can no longer use ${state.license.product} through this license. They can join again with a valid code or invitation.`,
      yes: "Remove seat",
      no: "Keep",
    }, async () => {
      try {
        await api("DELETE", `/v1/licenses/${enc(licenseId)}/seats/${enc(s.userId)}`);
      } catch (e) {
        if (e.code !== "SEAT_NOT_FOUND") return announce(errorText(e));
      }
      all = all.filter((x) => x.userId !== s.userId);
      await reloadLicense(state);
      draw();
      search.focus();
      announce(`${s.email} no longer holds a seat. ${seatsText(state.license)}.`);
    }, "btn small quiet-danger remove", { "aria-label": `Remove ${s.email}` });
    return h("tr", { "data-user-id": s.userId },
      cell("Email", s.email),
      cell("Joined", fmtDate(s.joinedAt)),
      cell("Joined with", s.joinedVia === "code" ? "Code" : "Invitation"),
      cell("", remove));
  }

  // Redrawn when the query changes (typing, or a cleared field's change
  // event), never on a mere blur: that would replace the row just clicked.
  let drawnFor = "";
  const onSearch = () => {
    if (search.value !== drawnFor) draw();
  };
  search.addEventListener("input", onSearch);
  search.addEventListener("change", onSearch);
  body.replaceChildren(
    h("section", { "aria-labelledby": "seats-title" },
      h("h2", { id: "seats-title", tabindex: "-1", class: "section-title" }, "Seats"),
      h("div", { class: "toolbar" },
        h("div", { class: "grow" }, h("label", { for: "seat-search" }, "Search by email"), search),
        h("div", { class: "toolbar-actions" }, loadAll, exportBtn)),
      summary, err, list));
  await reloadLicense(state);
  try {
    await fetchPage();
  } catch (e) {
    return list.replaceChildren(errorNotice(e));
  }
  draw();
}

// ---------------------------------------------------------------- activity

const KINDS = {
  all: ["Everything", () => true],
  seats: ["Seats", (t) => t.startsWith("seat")],
  codes: ["Codes", (t) => t.startsWith("code")],
  invitations: ["Invitations", (t) => t.startsWith("invitation")],
};

// `name(id)`: a user id as the admin knows them (an address, "you"), or
// the id itself for someone who no longer holds a seat.
function eventText(e, name) {
  const who = name(e.userId || e.actor);
  const by = name(e.actor);
  const via = e.codeId ? "a code" : e.invitationId ? "an invitation" : "";
  switch (e.type) {
    case "seatClaimed": return `Seat claimed by ${who}${via ? " with " + via : ""}`;
    case "seatReleased": return `${who} left`;
    case "seatRemoved": return `Seat of ${name(e.userId)} removed by ${by}`;
    case "codeCreated": return `Code created by ${by}`;
    case "codeRevoked": return `Code revoked by ${by}`;
    case "invitationCreated": return `Invitation created by ${by}`;
    case "invitationRevoked": return `Invitation revoked by ${by}`;
    case "invitationResent": return `Invitation resent by ${by}`;
    case "invitationDeclined": return "Invitation declined by the invitee";
    case "invitationUndeliverable": return `Invitation email undeliverable${e.detail ? ": " + e.detail : ""}`;
    case "seatsChanged": return `Seat total changed${e.detail ? " to " + e.detail : ""}`;
    default: return `${e.type} by ${by}`;
  }
}

const TIME = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

async function activity(state, body) {
  const { licenseId, ctx } = state;
  // Events name users by id; the members' addresses come from the first
  // page of seats, the caller is "you", system actors keep their names.
  const names = new Map([["seed", "the initial setup"], ["operator", "the operator"]]);
  const me = ctx.user && ctx.user.profile && ctx.user.profile.sub;
  if (me) names.set(me, "you");
  const seatNames = api("GET", `/v1/licenses/${enc(licenseId)}/seats?limit=100`)
    .then((p) => (p.seats || []).forEach((s) => names.has(s.userId) || names.set(s.userId, s.email)), () => {});
  const name = (id) => names.get(id) || id;
  let all = [];
  let cursor = null;
  const kind = h("select", { id: "event-kind" }, Object.entries(KINDS).map(([k, [label]]) => h("option", { value: k }, label)));
  const list = h("div", { id: "event-list" });
  const status = h("p", { class: "hint", role: "status", id: "event-status" });
  const err = h("div");
  const more = button("Load older events", () => run(more, () => fetchPage().then(draw)), "btn", { id: "events-more" });
  const exportBtn = button("Export CSV", () => run(exportBtn, async () => {
    try {
      while (cursor) await fetchPage(true);
    } catch (e) {
      return err.replaceChildren(errorNotice(e));
    }
    draw();
    download(`activity-${licenseId}.csv`, csv(["at", "type", "actor", "userId", "codeId", "invitationId", "detail"],
      all.map((e) => [e.at, e.type, e.actor, e.userId, e.codeId, e.invitationId, e.detail])));
    announce(`Exported ${all.length} events.`);
  }), "btn small", { id: "events-export" });

  async function fetchPage(quiet) {
    try {
      const page = await api("GET", `/v1/licenses/${enc(licenseId)}/events?limit=${PAGE}${cursor ? "&cursor=" + enc(cursor) : ""}`);
      all = all.concat(page.events || []);
      cursor = page.nextCursor || null;
      err.replaceChildren();
    } catch (e) {
      if (quiet) throw e;
      err.replaceChildren(errorNotice(e));
    }
  }

  function draw() {
    const [label, keep] = KINDS[kind.value] || KINDS.all;
    const shown = all.filter((e) => keep(e.type));
    status.textContent = `${shown.length} ${shown.length === 1 ? "event" : "events"}${kind.value === "all" ? "" : " (" + label.toLowerCase() + ")"} of ${all.length} loaded, newest first.`
      + (cursor ? " Older events can be loaded." : "");
    more.hidden = !cursor;
    if (!shown.length) return list.replaceChildren(h("p", { class: "empty-note" }, all.length ? "No event of this kind among those loaded." : "Nothing has happened yet."));
    list.replaceChildren(h("ol", { class: "events" }, shown.map((e) => h("li", { "data-type": e.type },
      h("time", { datetime: e.at }, TIME.format(new Date(e.at))),
      h("span", null, eventText(e, name))))));
  }

  kind.addEventListener("change", draw);
  body.replaceChildren(
    h("section", { "aria-labelledby": "activity-title" },
      h("h2", { id: "activity-title", tabindex: "-1", class: "section-title" }, "Activity"),
      h("div", { class: "toolbar" },
        h("div", null, h("label", { for: "event-kind" }, "Show"), kind),
        h("div", { class: "toolbar-actions" }, exportBtn)),
      status, err, list, h("div", { class: "more" }, more)));
  await Promise.all([fetchPage(), seatNames]);
  draw();
}

// ---------------------------------------------------------------- demand

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
  return el;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const SHORT_DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const dayText = (iso) => SHORT_DAY.format(new Date(iso + "T00:00:00Z"));

// Refused attempts per day as bars (no seat left below, code used up on
// top), drawn here: no charting service, nothing loaded from elsewhere.
function demandChart(days) {
  const W = 600, H = 160;
  const max = Math.max(1, ...days.map((d) => d.attempts));
  const step = W / days.length;
  const y = (v) => H * (1 - v / max);
  const bars = days.flatMap((d, i) => {
    const x = i * step + 1;
    const w = Math.max(1, step - 2);
    const out = [];
    if (d.noSeats) out.push(svg("rect", { x, y: y(d.noSeats), width: w, height: H - y(d.noSeats), class: "bar-no-seats" }));
    if (d.codeUsedUp) out.push(svg("rect", { x, y: y(d.attempts), width: w, height: y(d.noSeats) - y(d.attempts), class: "bar-used-up" }));
    return out;
  });
  const busiest = days.reduce((a, d) => (d.attempts > a.attempts ? d : a), days[0]);
  const total = days.reduce((n, d) => n + d.attempts, 0);
  const label = total
    ? `Refused attempts per day over the last 30 days: ${total} in all, most on ${dayText(busiest.date)} (${busiest.attempts}).`
    : "Refused attempts per day over the last 30 days: none.";
  // The bars stretch to the width; the labels are text around them, so
  // they stay readable on a phone.
  return h("figure", { class: "chart" },
    h("p", { class: "chart-max", "aria-hidden": "true" }, `${max} per day`),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, id: "demand-chart", preserveAspectRatio: "none" },
      svg("line", { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: "axis" }),
      bars),
    h("p", { class: "chart-x", "aria-hidden": "true" }, h("span", null, dayText(days[0].date)), h("span", null, "today")),
    h("figcaption", null,
      h("span", { class: "key key-no-seats", "aria-hidden": "true" }), " no seat left ",
      h("span", { class: "key key-used-up", "aria-hidden": "true" }), " code used up"));
}

async function demand(state, body) {
  const { licenseId } = state;
  let d;
  try {
    d = await api("GET", `/v1/licenses/${enc(licenseId)}/demand`);
  } catch (e) {
    return body.replaceChildren(h("section", null, sectionTitle("Demand"), errorNotice(e)));
  }
  const n7 = d.turnedAwayLast7Days;
  const headline = n7
    ? `${plural(n7, "student was", "students were")} turned away in the last 7 days` +
      (d.seatsShort
        ? `; with ${plural(d.seatsShort, "more seat", "more seats")} everyone who tried would have one.`
        : ", and every one of them has a seat now.")
    : "No student was turned away in the last 7 days.";
  const t = d.timeToSeat;
  const waits = [["Within an hour", t.withinHour], ["Within a day", t.withinDay], ["Within a week", t.withinWeek],
    ["Within 30 days", t.withinMonth], ["Longer", t.longer]];
  const claims = waits.reduce((n, [, v]) => n + v, 0);
  const most = Math.max(1, ...waits.map(([, v]) => v));
  body.replaceChildren(
    h("section", { "aria-labelledby": "demand-title" },
      h("h2", { id: "demand-title", tabindex: "-1", class: "section-title" }, "Demand"),
      h("div", { class: "card" },
        h("p", { class: "headline", id: "demand-headline" }, headline),
        facts([
          ["Seats", `${d.seatsUsed} of ${d.seatsTotal} used`],
          ["Turned away, last 30 days", plural(d.turnedAwayLast30Days, "student", "students")],
        ]),
        h("h3", { class: "list-title" }, "Refused attempts, last 30 days"),
        d.days.some((x) => x.attempts)
          ? demandChart(d.days)
          : h("p", { class: "empty-note", id: "demand-none" }, "No attempt was refused in the last 30 days."),
        h("details", null, h("summary", null, "As a table"),
          table(["Day", "No seat left", "Code used up"], h("tbody", null,
            d.days.filter((x) => x.attempts).reverse().map((x) => h("tr", null,
              cell("Day", dayText(x.date)), cell("No seat left", String(x.noSeats)), cell("Code used up", String(x.codeUsedUp)))))))),
      h("div", { class: "card spaced" },
        h("h3", null, "Time to a seat"),
        h("p", { class: "hint" }, claims
          ? `How long after their code or invitation was created ${plural(claims, "student", "students")} took a seat.`
          : "No seat has been claimed since this was first counted."),
        h("ul", { class: "waits", id: "waits" }, waits.map(([label, v]) => {
          const bar = h("span", { class: "wait-bar" });
          bar.style.setProperty("--p", Math.round((100 * v) / most) + "%");
          return h("li", null, h("span", { class: "wait-label" }, label), h("span", { class: "wait-track", "aria-hidden": "true" }, bar), h("span", { class: "wait-n" }, String(v)));
        })))));
}

// ---------------------------------------------------------------- helpers

// A table whose rows become labelled blocks on a narrow screen.
function table(headers, tbody) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "list" },
      h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t ? t : h("span", { class: "sr-only" }, "Actions"))))),
      tbody));
}

// A secret shown once (a new code, an open link) and its copy button. Where
// the clipboard is refused, the text is selected for the keyboard instead.
function copyable(text, what, attrs, buttonId) {
  const shown = h("code", { ...attrs, tabindex: "0" }, text);
  const copy = button(`Copy ${what}`, async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
      announce(`The ${what} was copied.`);
    } catch {
      shown.focus();
      getSelection().selectAllChildren(shown);
      announce(`Select the ${what} and copy it with your keyboard.`);
    }
  }, "btn small", { id: buttonId });
  return [shown, copy];
}

const cell = (label, content, attrs = {}) => h("td", { "data-label": label, ...attrs }, content);

function moreButton(onclick, id) {
  const b = button("Load more", () => run(b, onclick), "btn", { id });
  return h("div", { class: "more" }, b);
}

// RFC 4180, with cells that a spreadsheet would run as a formula defused.
export function csv(header, rows) {
  const q = (v) => {
    let s = v == null ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(q).join(",")).join("\r\n") + "\r\n";
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
