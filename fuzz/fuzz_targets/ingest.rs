//! CSV ingest on arbitrary bytes: the reader of every kind of file (lots with the
//! tenant check, sales with and without the in-file duplicate check) reads to the end
//! and accepts or rejects; it never panics, and a rejection always names a row.
#![no_main]

use cogs_core::ingest::{self, IngestError, Reader, Record};
use cogs_core::model::{
    Adjustment, CustomerReturn, LandedCost, Lot, Sale, StockCount, SupplierReturn, TenantId, Transfer,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tenant = TenantId::parse("acme-corp").expect("a valid tenant id");
    check(Reader::<_, Lot>::new(data, Some(&tenant)).and_then(Reader::finish));
    check(ingest::read_sales(data, None).and_then(|reader| reader.skip_duplicate_ids().finish()));
    read::<Sale>(data);
    read::<CustomerReturn>(data);
    read::<SupplierReturn>(data);
    read::<Adjustment>(data);
    read::<StockCount>(data);
    read::<Transfer>(data);
    read::<LandedCost>(data);
});

fn read<T: Record>(data: &[u8]) {
    check(Reader::<_, T>::new(data, None).and_then(Reader::finish));
}

/// Every problem reported names a row (the header is row 1), and at most the cap is kept.
fn check(outcome: Result<u64, IngestError>) {
    let rejected = match outcome {
        Ok(_) | Err(IngestError::Io { .. }) => return,
        Err(IngestError::Rejected(rejected)) => rejected,
    };
    assert!(!rejected.errors.is_empty());
    assert!(rejected.errors.len() <= ingest::MAX_REPORTED_ERRORS);
    assert!(rejected.error_count >= rejected.errors.len() as u64);
    assert!(rejected.errors.iter().all(|error| error.row >= 1));
}
