//! CSV ingest on arbitrary bytes: the lots and sales readers (with the in-file
//! duplicate check and without it) read to the end and accept or reject; they never
//! panic, and a rejection always names a row.
#![no_main]

use cogs_core::ingest::{self, IngestError};
use cogs_core::model::TenantId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tenant = TenantId::parse("acme-corp").expect("a valid tenant id");
    check(ingest::read_lots(data, Some(&tenant)).and_then(|reader| reader.finish()));
    check(ingest::read_sales(data, None).and_then(|reader| reader.skip_duplicate_ids().finish()));
});

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
