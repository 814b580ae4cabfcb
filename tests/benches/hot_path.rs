//! Criterion micro-benchmarks of a redemption's hot path, our code only
//! (no network): parsing and hashing the code, decoding the API Gateway
//! request and its caller, building the claim transaction, encoding the
//! answer, and the whole request on the embedded store.
//!
//! Run: `cargo bench -p integration-tests --bench hot_path` (release
//! build; figures are in docs/performance.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use integration_tests::events::Event;
use integration_tests::{Backend, TestApp, user};
use seat_invitations::ApiError;
use seat_invitations::domain::{
    Event as AuditEvent, EventKind, HashKeys, InviteCode, JoinedVia, SeatRecord,
};
use seat_invitations::http::{Function, caller, error_response, handle, json_body};
use seat_invitations::store::{ClaimPlan, ClaimVia, DynamoStore};

const CODE: &str = "I-7KQ2-M9TX-4HCD";

#[derive(serde::Deserialize)]
struct Redemption {
    #[allow(dead_code)]
    code: String,
}

fn redeem_event(sub: &str) -> Event {
    Event::signed_in("POST", "/v1/redemptions", sub, &format!("{sub}@demo.edu"))
        .body(&format!(r#"{{"code":"{CODE}"}}"#))
}

fn plan() -> ClaimPlan {
    let now = chrono::Utc::now();
    let seat = SeatRecord {
        license_id: "lic-1".into(),
        user_id: "ann".into(),
        email: integration_tests::email("ann@demo.edu"),
        joined_at: now,
        joined_via: JoinedVia::Code,
        via_id: "code_1".into(),
        shard: 3,
        claim_id: Some("clm_0123456789abcdef".into()),
    };
    let mut event = AuditEvent::new(&seat.license_id, EventKind::SeatClaimed, "ann", now);
    event.user_id = Some(seat.user_id.clone());
    ClaimPlan {
        seat,
        via: ClaimVia::Code {
            code_id: "code_1".into(),
            use_shard: 3,
        },
        event,
        refund: Some((
            "redeem#ann".into(),
            seat_invitations::store::LimitWindow {
                start: 1_788_000_000,
                count: 1,
            },
        )),
        token: "clm_0123456789abcdef-1".into(),
        rules_unchecked: true,
    }
}

fn pieces(c: &mut Criterion) {
    let keys = HashKeys::development();
    c.bench_function("parse code", |b| {
        b.iter(|| InviteCode::parse(black_box(" i-7kq2 m9tx-4hcd ")))
    });
    let code = InviteCode::parse(CODE).expect("code");
    c.bench_function("hash code (keyed)", |b| {
        b.iter(|| black_box(&code).hash(&keys))
    });
    let request = redeem_event("ann").request();
    c.bench_function("decode request: caller + body", |b| {
        b.iter(|| {
            let who = caller(black_box(&request)).expect("caller");
            let body: Redemption = json_body(black_box(&request)).expect("body");
            (who, body)
        })
    });
    let plan = plan();
    c.bench_function("build claim transaction", |b| {
        b.iter(|| DynamoStore::claim_writes("table", black_box(&plan)).expect("writes"))
    });
    c.bench_function("encode error envelope", |b| {
        b.iter(|| error_response(black_box(&ApiError::NoSeatsAvailable)))
    });
}

fn whole_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = rt.block_on(TestApp::new(Backend::Memory));
    let license = rt.block_on(t.license(1_000_000));
    let code = rt.block_on(t.code(&license.license_id, None));
    // A member redeeming again: guard, code, context, answer (no write).
    let member = Event::signed_in("POST", "/v1/redemptions", "ann", "ann@demo.edu")
        .body(&format!(r#"{{"code":"{}"}}"#, code.formatted()))
        .request();
    rt.block_on(seat_invitations::service::redeem::redeem(
        &t.app,
        &user("ann", "ann@demo.edu"),
        &code.formatted(),
    ))
    .expect("first claim");
    c.bench_function("whole redemption, memory store, repeat member", |b| {
        b.iter(|| rt.block_on(handle(&t.app, Function::RedeemCode, member.clone())))
    });
    // New members each time: guard, code, context, claim, answer.
    let mut n = 0u64;
    c.bench_function("whole redemption, memory store, new seat", |b| {
        b.iter(|| {
            n += 1;
            let sub = format!("u{n}");
            let req = Event::signed_in("POST", "/v1/redemptions", &sub, &format!("{sub}@demo.edu"))
                .body(&format!(r#"{{"code":"{}"}}"#, code.formatted()))
                .request();
            rt.block_on(handle(&t.app, Function::RedeemCode, req))
        })
    });
}

criterion_group!(benches, pieces, whole_request);
criterion_main!(benches);
