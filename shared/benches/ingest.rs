//! CSV ingest alone: sales rows per second, parsed and validated from bytes.

mod data;

use cogs_core::ingest::read_sales;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn ingest(c: &mut Criterion) {
    let (_, sales) = data::reference();
    let mut csv = String::from("sale_id,sku,sale_date,quantity_sold\n");
    for sale in &sales {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            sale.sale_id,
            sale.sku,
            sale.sale_date.to_rfc3339(),
            sale.quantity_sold
        ));
    }
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(sales.len() as u64));
    group.sample_size(10);
    group.bench_function("read_reference_sales", |b| {
        b.iter(|| {
            let mut reader = read_sales(csv.as_bytes(), None).expect("a valid header");
            let rows = reader.by_ref().count();
            reader.finish().expect("a valid file");
            rows
        });
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
