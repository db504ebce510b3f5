//! service: the use cases the entry points call. Each takes its inputs (and, once
//! persisted, its ports and a TenantId), and returns a value or a [`ServiceError`].
//! Depends on every layer below it.

mod cost;
mod error;

pub use cost::{AllocationLine, CostReport, LotBalance, SaleCost, Totals, cost_files, report};
pub use error::ServiceError;
