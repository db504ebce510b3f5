//! The engine alone, in memory, on the reference data: sales per second. The FIFO
//! allocator of the fast path, and the engine that costs every movement by each method
//! (what SKUs costed whole go through).

mod data;

use cogs_core::engine::{Inputs, LotBook, Method, Methods, allocate, cost_events};
use cogs_core::model::{Sale, SaleId, Sku};
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

    // Specific identification where every fourth sale names the oldest lot of its SKU
    // still received before it (a lot that may hold too little: the SKU then parks).
    let mut named = sales.clone();
    let mut first_lot = std::collections::HashMap::new();
    for lot in &lots {
        first_lot.entry(lot.sku.clone()).or_insert_with(|| lot.lot_id.clone());
    }
    for sale in named.iter_mut().step_by(4) {
        sale.lot_id = first_lot.get(&sale.sku).cloned();
    }
    let mut named_by_sku = named.clone();
    named_by_sku.sort_by(|a, b| (&a.sku, a.sale_date, &a.sale_id).cmp(&(&b.sku, b.sale_date, &b.sale_id)));
    // A merged export in date order as `cogs cost` reads it: each row its own texts.
    let (read, named_read) = (as_read(&sales), as_read(&named));
    let mut group = c.benchmark_group("methods");
    group.throughput(Throughput::Elements(sales.len() as u64));
    group.sample_size(10);
    // In date order (a merged export), and each SKU's sales together (a run's chunk of
    // an upload grouped by SKU): the engine visits SKU by SKU either way, so in date
    // order every sale it reads is far from the last.
    for method in Method::ALL {
        let methods = Methods::only(method);
        let orders = if method == Method::SpecificIdentification {
            [("", &named), ("_as_read", &named_read), ("_by_sku", &named_by_sku)]
        } else {
            [("", &sales), ("_as_read", &read), ("_by_sku", &by_sku)]
        };
        for (order, sales) in orders {
            group.bench_function(format!("cost_events_reference_data_{method}{order}"), |b| {
                b.iter_with_large_drop(|| {
                    cost_events(&Inputs { methods: &methods, lots: &lots, sales, ..Inputs::default() })
                        .expect("valid reference data")
                });
            });
        }
    }
    group.finish();
}

/// `sales` as a reader makes them: each row holding its own copies of its id's and
/// SKU's texts, made in row order (rows read from a file or the database). The
/// reference data's rows share their SKU's text, and their ids were made SKU by SKU
/// before the sales were sorted by date.
fn as_read(sales: &[Sale]) -> Vec<Sale> {
    sales
        .iter()
        .map(|sale| Sale {
            sale_id: SaleId::parse(sale.sale_id.as_str()).expect("valid id"),
            sku: Sku::parse(sale.sku.as_str()).expect("valid sku"),
            ..sale.clone()
        })
        .collect()
}

criterion_group!(benches, engine);
criterion_main!(benches);
