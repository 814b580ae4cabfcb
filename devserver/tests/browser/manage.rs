//! The admins' pages: a license's overview, codes, seats and activity, as
//! its owner uses them, with a student joining in a second browser.

use crate::harness::{self, Store, browser, devserver};
use crate::{FULL, GOOD, activate, api, outbox, seed};

const CAMPUS: &str = r#".manage-link[data-license-id="lic-campus"]"#;
const CODE_ROWS: &str = "#code-list tr[data-code-id]";
const SEAT_ROWS: &str = "#seat-list tr[data-user-id]";

async fn tab(b: &mut harness::Browser, view: &str) {
    b.click(&format!("#tab-{view}")).await;
    b.wait_state("manage", view).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_a_code_sees_a_student_join_removes_the_seat_and_reads_the_activity() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "manage", false).await;

    // The owner holds no seat: My Invitations is empty but for the
    // licenses they manage.
    b.sign_in_as("owner@demo.edu").await;
    b.wait_state("home", "empty").await;
    assert_eq!(b.count(".manage-link").await, 5);
    b.shot("home-manages").await;
    b.axe().await;

    b.click(CAMPUS).await;
    b.wait_state("manage", "overview").await;
    let text = b.text("main").await;
    for expected in [
        "ATLAS.ti Campus",
        "Demo University",
        "0 of 5 seats used",
        "owner@demo.edu (Owner)",
        "dana@demo.edu (Admin)",
        "Any address",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    b.shot("overview").await;
    b.axe().await;

    // Codes: the seeded one, then a new one shown once in full.
    tab(&mut b, "codes").await;
    assert_eq!(b.count(CODE_ROWS).await, 1);
    b.fill("#code-max-uses", "0").await;
    b.click("#code-create").await;
    b.wait_for(r#"[data-error="MAX_USES"]"#).await;
    b.shot("code-invalid").await;
    b.fill("#code-max-uses", "2").await;
    b.fill("#code-note", "Lecture hall A").await;
    b.click("#code-create").await;
    b.wait_for("#new-code").await;
    let code = b.text("#new-code").await;
    assert!(code.starts_with("I-") && code.len() == 16, "{code}");
    b.wait_count(CODE_ROWS, 2).await;
    let list = b.text("#code-list").await;
    assert!(
        list.contains("Lecture hall A") && list.contains("0 of 2"),
        "{list}"
    );
    assert!(
        !list.contains(&code),
        "the list shows the last four characters only: {list}"
    );
    b.shot("code-created").await;
    b.axe().await;

    // A student redeems it in another browser.
    let mut student = browser(&server, "manage-student", false).await;
    student.sign_in_as("stu@demo.edu").await;
    activate(&mut student, &code).await;
    student.wait_state("activate", "success").await;
    student.close().await;

    // Seats: the student is there, searchable; removed with a confirmation.
    tab(&mut b, "seats").await;
    b.wait_count(SEAT_ROWS, 1).await;
    assert!(b.text("#seat-list").await.contains("stu@demo.edu"));
    assert!(b.text("#seat-summary").await.contains("1 of 5 seats used"));
    b.shot("seats").await;
    b.axe().await;
    b.fill("#seat-search", "nobody").await;
    b.wait_count(SEAT_ROWS, 0).await;
    assert!(b.text("#seat-list").await.contains("No seat matches"));
    b.fill("#seat-search", "STU@").await;
    b.wait_count(SEAT_ROWS, 1).await;
    b.click(&format!("{SEAT_ROWS} button.remove")).await;
    b.wait_for("dialog#confirm[open]").await;
    assert!(b.text("#confirm-title").await.contains("stu@demo.edu"));
    b.shot("remove-confirm").await;
    b.click("#confirm-yes").await;
    b.wait_count(SEAT_ROWS, 0).await;
    b.fill("#seat-search", "").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.text("#seat-summary").await.contains("0 of 5 seats used") {
        assert!(std::time::Instant::now() < deadline, "the count stays");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.shot("seat-removed").await;

    // Activity: newest first, filtered by kind.
    tab(&mut b, "activity").await;
    let events = b.text("#event-list").await;
    // The caller is "you"; the member who left the list keeps an id.
    let removed = events.find("removed by you").expect("the removal");
    let claimed = events.find("Seat claimed by").expect("the claim");
    let created = events.find("Code created by you").expect("the code");
    assert!(
        removed < claimed && claimed < created,
        "newest first: {events}"
    );
    b.shot("activity").await;
    b.axe().await;
    b.select("#event-kind", "codes").await;
    let codes_only = b.text("#event-list").await;
    assert!(
        codes_only.contains("Code created") && !codes_only.contains("Seat"),
        "{codes_only}"
    );
    b.shot("activity-codes").await;

    // Revoke the new code, with a confirmation.
    tab(&mut b, "codes").await;
    b.wait_count(CODE_ROWS, 2).await;
    b.click(&format!("{CODE_ROWS}:first-child button.revoke"))
        .await;
    b.wait_for("dialog#confirm[open]").await;
    b.shot("revoke-confirm").await;
    b.click("#confirm-yes").await;
    b.wait_count(&format!("{CODE_ROWS} .tag.bad"), 1).await;
    assert_eq!(b.count(&format!("{CODE_ROWS} button.revoke")).await, 1);
    b.shot("code-revoked").await;

    // The tabs are links: a reload lands on the same section.
    b.open("/manage/lic-campus?view=seats").await;
    b.wait_state("manage", "seats").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_who_manages_nothing_gets_not_found() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "manage-denied", false).await;
    b.sign_in_as("zed@other.org").await;
    b.wait_state("home", "empty").await;
    assert_eq!(b.count(".manage-link").await, 0);
    b.open("/manage/lic-campus").await;
    b.wait_state("manage", "not-found").await;
    let text = b.text("main").await;
    assert!(!text.contains("ATLAS.ti"), "{text}");
    b.shot("not-found").await;
    b.axe().await;
    b.open("/manage").await;
    b.wait_state("manage", "empty").await;
    b.shot("manages-nothing").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_pages_fit_a_phone() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    // Two members, so the seat list and the activity have rows.
    for (sub, email) in [("stu-1", "stu@demo.edu"), ("stu-2", "lee@demo.edu")] {
        let body = format!(r#"{{"code": "{GOOD}"}}"#);
        let (status, _) = api(
            server.port,
            "POST",
            "/v1/redemptions",
            (sub, email),
            Some(&body),
        );
        assert_eq!(status, 201);
    }
    let mut b = browser(&server, "manage-phone", true).await;
    b.sign_in_as("owner@demo.edu").await;
    b.open("/manage").await;
    b.wait_state("manage", "list").await;
    b.fits_the_screen().await;
    b.shot("list").await;
    b.axe().await;
    for view in [
        "overview",
        "codes",
        "invitations",
        "seats",
        "activity",
        "demand",
    ] {
        b.open(&format!("/manage/lic-campus?view={view}")).await;
        b.wait_state("manage", view).await;
        b.fits_the_screen().await;
        b.shot(view).await;
        b.axe().await;
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_by_paste_and_csv_sees_each_result_resends_and_revokes() {
    let (server, dir) = devserver(&seed(), Store::Memory, &[("RESEND_COOLDOWN_SECS", "1")]);
    let body = format!(r#"{{"code": "{GOOD}"}}"#);
    let (status, _) = api(
        server.port,
        "POST",
        "/v1/redemptions",
        ("stu-1", "stu@demo.edu"),
        Some(&body),
    );
    assert_eq!(status, 201);
    let mails_before = outbox(server.port).len();
    let csv = dir.path().join("class.csv");
    std::fs::write(
        &csv,
        "name,email\nEve,eve@demo.edu\nFay,\"Fay <FAY@demo.edu>\"\n",
    )
    .expect("csv");

    let mut b = browser(&server, "manage-invite", false).await;
    b.sign_in_as("owner@demo.edu").await;
    b.open("/manage/lic-campus?view=invitations").await;
    b.wait_state("manage", "invitations").await;
    assert!(
        b.count("#invite-list tr[data-status]").await > 0,
        "the seeded pending invitations"
    );
    b.shot("invitations").await;
    b.axe().await;

    b.fill(
        "#invite-emails",
        "dee@demo.edu, stu@demo.edu\nnot-an-address@\nDEE@demo.edu",
    )
    .await;
    b.upload("#invite-file", &csv).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.value("#invite-emails").await.contains("fay@demo.edu") {
        assert!(
            std::time::Instant::now() < deadline,
            "the CSV's addresses are not added"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.click("#invite-send").await;
    b.wait_for("#invite-results tr[data-delivery]").await;
    let result =
        |email: &str| format!(r#"#invite-results tr[data-email="{email}"][data-delivery]"#);
    for (email, delivery) in [
        ("dee@demo.edu", "queued"),
        ("eve@demo.edu", "queued"),
        ("fay@demo.edu", "queued"),
        ("stu@demo.edu", "alreadyMember"),
        ("not-an-address@", "invalid"),
    ] {
        assert_eq!(
            b.attr(&result(email), "data-delivery").await.as_deref(),
            Some(delivery),
            "{email}"
        );
    }
    assert_eq!(
        b.count("#invite-results tr[data-delivery]").await,
        5,
        "duplicates merged"
    );
    b.shot("invite-results").await;
    b.axe().await;
    // The sender mails them; the list then shows each one sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while outbox(server.port).len() - mails_before < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queued mail is not sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.wait_for(r#"#invite-list tr[data-email="eve@demo.edu"][data-delivery="sent"]"#)
        .await;
    b.client
        .execute(
            "document.querySelector('#invite-list').scrollIntoView(); return true;",
            vec![],
        )
        .await
        .expect("scroll");
    b.shot("invitations-sent").await;
    let mails = outbox(server.port);
    assert_eq!(
        mails.len() - mails_before,
        3,
        "one email per address sent: {mails:?}"
    );

    // One of them accepts from the mail, in their own browser.
    let mail = mails
        .iter()
        .find(|m| m["to"][0] == "eve@demo.edu")
        .expect("Eve's invitation");
    let text = mail["text"].as_str().unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", server.port);
    let path = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&base).filter(|p| p.starts_with("/invite/")))
        .unwrap_or_else(|| panic!("an invite URL in {text}"))
        .to_owned();
    let mut eve = browser(&server, "manage-invitee", false).await;
    eve.sign_in_as("eve@demo.edu").await;
    eve.open(&path).await;
    eve.wait_state("invite", "ready").await;
    eve.click("#accept").await;
    eve.wait_state("invite", "accepted").await;
    eve.close().await;
    b.open("/manage/lic-campus?view=seats").await;
    b.wait_state("manage", "seats").await;
    assert!(b.text("#seat-list").await.contains("eve@demo.edu"));
    b.open("/manage/lic-campus?view=invitations").await;
    b.wait_state("manage", "invitations").await;

    // An open link, shown once with a copy button.
    b.click("#open-link-create").await;
    b.wait_for("#open-link-url").await;
    assert!(b.text("#open-link-url").await.contains("/invite/"));
    b.shot("open-link").await;

    // Resend, then revoke with a confirmation.
    let dee = r#"#invite-list tr[data-email="dee@demo.edu"]"#;
    b.wait_for(dee).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    b.click(&format!("{dee} button.resend")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while outbox(server.port).len() - mails_before < 4 {
        assert!(std::time::Instant::now() < deadline, "no resent mail");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.click(&format!("{dee} button.revoke")).await;
    b.wait_for("dialog#confirm[open]").await;
    b.shot("revoke-invitation").await;
    b.click("#confirm-yes").await;
    b.wait_for(&format!(r#"{dee}[data-status="revoked"]"#))
        .await;
    b.select("#invite-status", "revoked").await;
    b.wait_for(&format!(r#"{dee}[data-status="revoked"]"#))
        .await;
    b.shot("revoked-list").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demand_page_counts_the_students_a_full_license_turned_away() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "manage-demand", false).await;
    b.sign_in_as("owner@demo.edu").await;
    b.open("/manage/lic-full?view=demand").await;
    b.wait_state("manage", "demand").await;
    assert!(
        b.text("#demand-headline")
            .await
            .contains("No student was turned away"),
        "{}",
        b.text("main").await
    );
    b.shot("none-yet").await;

    // Two students try the full license's code, one of them three times.
    let body = format!(r#"{{"code": "{FULL}"}}"#);
    for (sub, email) in [
        ("stu-1", "stu@demo.edu"),
        ("stu-1", "stu@demo.edu"),
        ("stu-1", "stu@demo.edu"),
        ("stu-2", "lee@demo.edu"),
    ] {
        let (status, answer) = api(
            server.port,
            "POST",
            "/v1/redemptions",
            (sub, email),
            Some(&body),
        );
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("NO_SEATS_AVAILABLE"))
        );
    }
    b.open("/manage/lic-full?view=demand").await;
    b.wait_state("manage", "demand").await;
    let headline = b.text("#demand-headline").await;
    assert!(
        headline.contains("2 students were turned away in the last 7 days")
            && headline.contains("with 2 more seats everyone who tried would have one"),
        "{headline}"
    );
    let label = b
        .attr("#demand-chart", "aria-label")
        .await
        .unwrap_or_default();
    assert!(label.contains("4 in all"), "{label}");
    b.shot("turned-away").await;
    b.axe().await;
    // The chart is drawn by the page: nothing was loaded from elsewhere.
    b.only_first_party_requests().await;
    b.close().await;
}
