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
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
