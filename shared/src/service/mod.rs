//! service: the use cases the entry points call: upload, start run, advance run, dry
//! run, rollback, list, show, inventory, the live book, journal export, reports, and
//! offline costing. Each
//! takes its ports (the pool) and a [`Caller`], and returns a value or a
//! [`ServiceError`]. Depends on every layer below it.
//!
//! Use cases that write come in pairs where a caller may need to join them to a wider
//! transaction: `upload_in(&tx, …)` runs inside the caller's transaction, `upload(&pool,
//! …)` opens and commits its own.

mod book;
mod cost;
mod error;
mod maintenance;
mod queries;
mod reports;
mod rollback;
mod run;
mod settings;
mod upload;
mod verify;

pub use book::{BookPage, book};
pub use cost::{
    AllocationLine, CostFiles, CostReport, LotBalance, MovementLine, SaleCost, Totals, cost_files, layer_balance,
    lot_balance, report,
};
pub use error::{Category, ServiceError};
pub use maintenance::{MaintenanceFailure, MaintenanceReport, MaintenanceSettings, run_maintenance};
pub use queries::{
    InventoryReport, JournalExport, JournalOptions, RunDetail, RunPage, SkuStock, inventory, journal_entry,
    journal_reference, list_runs, show_run,
};
pub use reports::{
    AGE_BUCKETS, AgeBucket, Ageing, AsOf, CogsReport, CogsRow, CsvReport, LayerValue, LotTrace, RollForward,
    RollForwardRow, SaleTrace, SkuAgeing, SkuValue, TraceSale, Valuation, ageing, cogs_by_sku, lot_trace, roll_forward,
    sale_trace, valuation,
};
pub use rollback::rollback_run;
pub use run::{ChunkBudget, DryRunInput, DryRunReport, RunProgress, abandon_run, advance_run, dry_run, start_run};
pub use settings::{MethodSetting, SettingsChange, change_settings, settings};
pub use upload::{
    MAX_STAGED_BYTES, PRESIGNED_URL_LIFETIME, PendingUpload, StagedLoad, UploadDetail, create_upload, expire_upload,
    load_staged, parse_staged_key, show_upload, staged_key, upload, upload_in,
};
pub use verify::{CheckOutcome, VerifyReport, verify};

use crate::model::TenantId;

/// Who is asking: the tenant whose data the use case may touch, and the actor (a
/// user, a token subject, an operator) recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub actor: String,
}

impl Caller {
    pub fn new(tenant_id: TenantId, actor: impl Into<String>) -> Self {
        Self { tenant_id, actor: actor.into() }
    }
}
