//! `cogs-generate`: deterministic benchmark data. N SKUs, L lots per SKU received over
//! 2024, S sales that never oversell (each sale only takes what its SKU's lots
//! received by its date still hold), many spanning two or more lots. Fixed seed: the
//! same arguments write the same bytes.
//!
//! ```text
//! cogs-generate DIR [--skus 10000] [--lots 100000] [--sales 1000000] [--seed 42] [--shuffle]
//! ```
//! writes DIR/lots.csv and DIR/sales.csv, grouped by SKU in date order, or with
//! `--shuffle` in a random (seeded) row order, as merged exports come.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// splitmix64: small, fast, and the same everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// A CSV file's lines, kept until written so they can be shuffled.
struct Rows {
    header: &'static str,
    lines: Vec<String>,
}

impl Rows {
    fn new(header: &'static str) -> Self {
        Self { header, lines: Vec::new() }
    }

    fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    /// Fisher-Yates, from the seeded generator.
    fn shuffle(&mut self, random: &mut Random) {
        for i in (1..self.lines.len()).rev() {
            let j = random.between(0, i as u64) as usize;
            self.lines.swap(i, j);
        }
    }

    fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut file = BufWriter::new(std::fs::File::create(path)?);
        writeln!(file, "{}", self.header)?;
        for line in &self.lines {
            writeln!(file, "{line}")?;
        }
        file.flush()
    }
}

fn argument(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .map_or(default, |w| w[1].parse().unwrap_or_else(|_| panic!("{name} takes a number")))
}

/// The instant `second` seconds into 2024, as RFC 3339.
fn instant(second: u64) -> String {
    let day = second / 86_400;
    let date = chrono_free_date(day);
    let rest = second % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Day `day` (0-based) of 2024 as YYYY-MM-DD, without a date library.
fn chrono_free_date(mut day: u64) -> String {
    const DAYS: [u64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (month, length) in DAYS.iter().enumerate() {
        if day < *length {
            return format!("2024-{:02}-{:02}", month + 1, day + 1);
        }
        day -= length;
    }
    "2024-12-31".to_owned()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .filter(|a| !a.starts_with("--"))
            .expect("usage: cogs-generate DIR [--skus N] [--lots N] [--sales N] [--seed N] [--shuffle]"),
    );
    let skus = argument(&args, "--skus", 10_000).max(1);
    let lots_per_sku = (argument(&args, "--lots", 100_000) / skus).max(1);
    let sales_per_sku = (argument(&args, "--sales", 1_000_000) / skus).max(1);
    let shuffle = args.iter().any(|a| a == "--shuffle");
    let mut random = Random(argument(&args, "--seed", 42));
    std::fs::create_dir_all(&dir)?;
    let mut lots =
        Rows::new("lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit");
    let mut sales = Rows::new("sale_id,sku,sale_date,quantity_sold");
    let year = 366 * 86_400;
    let mut sale_number = 0;
    for sku in 0..skus {
        // Lots arrive over the year, the first on its first day.
        let mut arrivals: Vec<(u64, u64)> = (0..lots_per_sku)
            .map(|i| {
                let at = if i == 0 { 0 } else { random.between(0, year - 86_400) };
                (at, random.between(20, 400))
            })
            .collect();
        arrivals.sort_unstable();
        for (i, (at, quantity)) in arrivals.iter().enumerate() {
            let (price, freight) = (random.between(100, 99_999), random.between(0, 999));
            lots.push(format!(
                "L{sku:05}-{i:03},SKU-{sku:05},{},{quantity},{quantity},{}.{:02},{}.{:03}",
                instant(*at),
                price / 100,
                price % 100,
                freight / 1000,
                freight % 1000
            ));
        }
        // Sales in date order, each taking at most what has arrived and is left.
        let mut times: Vec<u64> = (0..sales_per_sku).map(|_| random.between(3600, year - 1)).collect();
        times.sort_unstable();
        let (mut received, mut sold, mut next_lot) = (0, 0, 0);
        for at in times {
            while next_lot < arrivals.len() && arrivals[next_lot].0 <= at {
                received += arrivals[next_lot].1;
                next_lot += 1;
            }
            let wanted = random.between(1, 12);
            let quantity = wanted.min(received - sold);
            if quantity == 0 {
                continue;
            }
            sold += quantity;
            sales.push(format!("S{sale_number:08},SKU-{sku:05},{},{quantity}", instant(at)));
            sale_number += 1;
        }
    }
    if shuffle {
        lots.shuffle(&mut random);
        sales.shuffle(&mut random);
    }
    lots.write(&dir.join("lots.csv"))?;
    sales.write(&dir.join("sales.csv"))?;
    eprintln!("wrote {} lots and {sale_number} sales to {}", skus * lots_per_sku, dir.display());
    Ok(())
}
