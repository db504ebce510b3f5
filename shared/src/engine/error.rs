use rust_decimal::Decimal;

use crate::model::{LotId, SaleId, Sku};

/// Why the engine refused to cost. Whatever the variant, the `LotBook` is left exactly
/// as it was before the failing `allocate` call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostingError {
    #[error(
        "sale {sale_id} needs {requested} of {sku} but only {available} is available from lots received by its date"
    )]
    InsufficientInventory { sale_id: SaleId, sku: Sku, requested: Decimal, available: Decimal },
    #[error("sale {sale_id} comes after sale {previous_sale_id} in (sale_date, sale_id) order but was given before it")]
    SalesOutOfOrder { sale_id: SaleId, previous_sale_id: SaleId },
    #[error("sale {sale_id} has quantity_sold {quantity_sold}; it must be greater than zero")]
    NonPositiveSale { sale_id: SaleId, quantity_sold: Decimal },
    #[error("lot {lot_id} appears twice")]
    DuplicateLot { lot_id: LotId },
    #[error("lot {lot_id} is invalid: {reason}")]
    InvalidLot { lot_id: LotId, reason: &'static str },
    #[error("the unit cost of lot {lot_id} (price plus freight) is too large to represent exactly")]
    UnitCostOverflow { lot_id: LotId },
    #[error("the cost of sale {sale_id} from lot {lot_id} is too large to represent exactly")]
    CostOverflow { sale_id: SaleId, lot_id: LotId },
}
