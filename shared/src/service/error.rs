use serde_json::{Map, Value, json};

use crate::engine::CostingError;
use crate::ingest::IngestError;
use crate::journal::JournalError;

/// Why a use case failed. [`ServiceError::kind`] is the stable wire name, and
/// [`ServiceError::details`] what a caller needs to act on it; the HTTP layer and the
/// CLI both put them in one envelope: `{"error": {"type", "message", …details}}`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Costing(#[from] CostingError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("a total is too large to represent exactly")]
    AmountOverflow,
}

impl ServiceError {
    /// The stable, snake_case name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::Ingest(IngestError::Rejected(_)) => "validation_failed",
            ServiceError::Ingest(IngestError::Io { .. }) => "unreadable_input",
            ServiceError::Costing(CostingError::InsufficientInventory { .. }) => "insufficient_inventory",
            ServiceError::Costing(_) => "invalid_costing_input",
            ServiceError::Journal(JournalError::Overflow) | ServiceError::AmountOverflow => "amount_overflow",
        }
    }

    /// The fields beside `type` and `message` in the error envelope, as an object.
    pub fn details(&self) -> Value {
        match self {
            ServiceError::Ingest(IngestError::Rejected(rejected)) => json!({
                "file": rejected.kind,
                "error_count": rejected.error_count,
                "errors": rejected.errors,
            }),
            ServiceError::Costing(CostingError::InsufficientInventory { sale_id, sku, requested, available }) => {
                json!({
                    "sale_id": sale_id,
                    "sku": sku,
                    "requested": requested.normalize(),
                    "available": available.normalize(),
                })
            }
            ServiceError::Costing(
                CostingError::SalesOutOfOrder { sale_id, .. } | CostingError::NonPositiveSale { sale_id, .. },
            ) => {
                json!({ "sale_id": sale_id })
            }
            ServiceError::Costing(
                CostingError::DuplicateLot { lot_id }
                | CostingError::InvalidLot { lot_id, .. }
                | CostingError::UnitCostOverflow { lot_id },
            ) => json!({ "lot_id": lot_id }),
            ServiceError::Costing(CostingError::CostOverflow { sale_id, lot_id }) => {
                json!({ "sale_id": sale_id, "lot_id": lot_id })
            }
            ServiceError::Ingest(IngestError::Io { .. }) | ServiceError::Journal(_) | ServiceError::AmountOverflow => {
                json!({})
            }
        }
    }

    /// The whole envelope: `{"error": {"type", "message", …details}}`.
    pub fn envelope(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), self.kind().into());
        error.insert("message".into(), self.to_string().into());
        if let Value::Object(details) = self.details() {
            error.extend(details);
        }
        json!({ "error": error })
    }
}
