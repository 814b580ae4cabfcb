//! `capacity-sim`: the contention model's curves. For each hold time `w`
//! (5, 10, 15, 25 ms) and each arrival rate (100 to 2,000 a second), one
//! license and one code on a warmed table, 10 virtual seconds each: claims
//! a second and the share of `503` answers. Prints a Markdown table and
//! writes two SVG charts.
//!
//! Then the scenarios at `w` = 15 ms: semester starts (0 → 1,000 and
//! 0 → 2,000 arrivals a second) on a warmed and on a brand-new table, a
//! code with a use limit, the warmed table's keys hashed onto 40
//! partitions, and a crowd filling a license to its last seat.
//!
//! Usage: cargo run -p integration-tests --bin capacity-sim [--release] -- [OUT_DIR [NAME]]
//!   OUT_DIR: where the charts go (default docs/img); NAME: their file
//!   names' stem (default capacity: capacity-claims.svg, capacity-503.svg)
//!   and the charts' subtitle.

use std::time::Duration;

use integration_tests::sim::{self, Arrivals, Model, Report, Scenario};
use plotters::prelude::*;

const HOLDS_MS: [u64; 4] = [5, 10, 15, 25];
const RATES: [f64; 8] = [
    100.0, 250.0, 500.0, 750.0, 1_000.0, 1_250.0, 1_500.0, 2_000.0,
];
/// A table warmed well past what these rates need: conflicts, not the
/// table's budget, are what the curves show.
const WARM_WRU: f64 = 40_000.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/img".to_owned());
    let name = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "capacity".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let mut rows: Vec<(u64, f64, Report)> = Vec::new();
    for w in HOLDS_MS {
        for rate in RATES {
            let report = runtime.block_on(sim::run(&Scenario {
                model: Model::warm_table(Duration::from_millis(w), WARM_WRU),
                arrivals: Arrivals::Constant(rate),
                duration: Duration::from_secs(10),
                seats: 1_000_000,
                max_uses: None,
            }));
            eprintln!("w = {w} ms, {rate} arrivals/s: {}", report.summary());
            rows.push((w, rate, report));
        }
    }
    println!("| w | arrivals/s | {COLUMNS}");
    println!("| --- | --- |{}", " --- |".repeat(8));
    for (w, rate, r) in &rows {
        println!("| {w} ms | {rate:.0} | {}", row(r));
    }
    chart(
        &format!("{out}/{name}-claims.svg"),
        &format!("Claims a second, one license ({name})"),
        "claims/s",
        2_000.0,
        &rows,
        |r| r.claims_per_sec(),
    )?;
    chart(
        &format!("{out}/{name}-503.svg"),
        &format!("Share of 503 answers, one license ({name})"),
        "503 share (%)",
        100.0,
        &rows,
        |r| 100.0 * r.unavailable_rate(),
    )?;
    eprintln!("charts in {out}/{name}-claims.svg and {out}/{name}-503.svg");

    let w = Duration::from_millis(15);
    let ramp = |to: f64| Arrivals::Ramp {
        from: 0.0,
        to,
        over: 10.0,
    };
    // A warmed table's keys on as many partitions as its budget implies
    // (40,000 WRU / 1,000), not one each.
    let hashed = Model {
        physical_partitions: Some(40),
        ..Model::warm_table(w, WARM_WRU)
    };
    let scenarios: [(&str, Scenario); 9] = [
        (
            "semester start 0 → 1,000/s, warm table",
            start(Model::warm_table(w, WARM_WRU), ramp(1_000.0), 100_000, None),
        ),
        (
            "semester start 0 → 2,000/s, warm table",
            start(Model::warm_table(w, WARM_WRU), ramp(2_000.0), 100_000, None),
        ),
        (
            "semester start 0 → 1,000/s, new table",
            start(Model::new_table(w), ramp(1_000.0), 100_000, None),
        ),
        (
            "constant 250/s, new table",
            start(
                Model::new_table(w),
                Arrivals::Constant(250.0),
                100_000,
                None,
            ),
        ),
        (
            "constant 1,000/s, warm table",
            start(
                Model::warm_table(w, WARM_WRU),
                Arrivals::Constant(1_000.0),
                100_000,
                None,
            ),
        ),
        (
            "constant 1,000/s, code limited to 100,000 uses",
            start(
                Model::warm_table(w, WARM_WRU),
                Arrivals::Constant(1_000.0),
                100_000,
                Some(100_000),
            ),
        ),
        (
            "constant 1,250/s, code limited to 100,000 uses",
            start(
                Model::warm_table(w, WARM_WRU),
                Arrivals::Constant(1_250.0),
                100_000,
                Some(100_000),
            ),
        ),
        (
            "constant 1,000/s, warm table, keys on 40 partitions",
            start(hashed, Arrivals::Constant(1_000.0), 100_000, None),
        ),
        (
            "last seat: 2,000 seats, 1,000/s",
            start(
                Model::warm_table(w, WARM_WRU),
                Arrivals::Constant(1_000.0),
                2_000,
                None,
            ),
        ),
    ];
    println!();
    println!("| scenario (w = 15 ms, 15 s) | {COLUMNS}");
    println!("| --- |{}", " --- |".repeat(8));
    for (label, scenario) in scenarios {
        let report = runtime.block_on(sim::run(&scenario));
        eprintln!("{label}: {}", report.summary());
        println!("| {label} | {}", row(&report));
    }
    Ok(())
}

const COLUMNS: &str = "claims/s | 503 | no seats | transactions per claim | p50 | p99 | RRU per claim | WRU per claim |";

fn row(r: &Report) -> String {
    format!(
        "{:.0} | {:.1} % | {} | {:.2} | {:.0} ms | {:.0} ms | {:.1} | {:.1} |",
        r.claims_per_sec(),
        100.0 * r.unavailable_rate(),
        r.no_seats,
        r.attempts_per_claim(),
        r.percentile_ms(50.0),
        r.percentile_ms(99.0),
        r.tally.rru / r.claimed.max(1) as f64,
        r.tally.wru / r.claimed.max(1) as f64,
    )
}

fn start(model: Model, arrivals: Arrivals, seats: u32, max_uses: Option<u32>) -> Scenario {
    Scenario {
        model,
        arrivals,
        duration: Duration::from_secs(15),
        seats,
        max_uses,
    }
}

fn chart(
    path: &str,
    title: &str,
    y_label: &str,
    y_max: f64,
    rows: &[(u64, f64, Report)],
    value: impl Fn(&Report) -> f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..2_000f64, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("arrivals/s")
        .y_desc(y_label)
        .draw()?;
    let colors = [BLUE, GREEN, MAGENTA, RED];
    for (i, w) in HOLDS_MS.iter().enumerate() {
        let color = colors[i % colors.len()];
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|(rw, _, _)| rw == w)
            .map(|(_, rate, r)| (*rate, value(r)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(format!("w = {w} ms"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}
