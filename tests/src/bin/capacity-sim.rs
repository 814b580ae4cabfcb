//! `capacity-sim`: the contention model's curves. For each hold time `w`
//! (5, 10, 15, 25 ms) and each arrival rate (100 to 2,000 a second), one
//! license and one code on a warmed table, 10 virtual seconds each: claims
//! a second and the share of `503` answers. Prints a Markdown table and
//! writes two SVG charts.
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
    println!("| w | arrivals/s | claims/s | 503 | transactions per claim | p99 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (w, rate, r) in &rows {
        println!(
            "| {w} ms | {rate:.0} | {:.0} | {:.1} % | {:.2} | {:.0} ms |",
            r.claims_per_sec(),
            100.0 * r.unavailable_rate(),
            r.attempts_per_claim(),
            r.percentile_ms(99.0)
        );
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
    Ok(())
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
