//! The FIFO engine alone, in memory, on the reference data: sales per second.

mod data;

use cogs_core::engine::{LotBook, allocate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn engine(c: &mut Criterion) {
    let (lots, sales) = data::reference();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(sales.len() as u64));
    group.sample_size(10);
    group.bench_function("allocate_reference_data", |b| {
        b.iter_batched(
            || LotBook::new(lots.clone()).expect("valid lots"),
            |mut book| allocate(&mut book, &sales).expect("no sale oversells"),
            criterion::BatchSize::LargeInput,
        );
    });
    // Runs feed the engine each SKU's sales together, in (sku, sale_date, sale_id) order.
    let mut by_sku = sales.clone();
    by_sku.sort_by(|a, b| (&a.sku, a.sale_date, &a.sale_id).cmp(&(&b.sku, b.sale_date, &b.sale_id)));
    group.bench_function("allocate_reference_data_by_sku", |b| {
        b.iter_batched(
            || LotBook::new(lots.clone()).expect("valid lots"),
            |mut book| allocate(&mut book, &by_sku).expect("no sale oversells"),
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
