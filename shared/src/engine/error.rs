use rust_decimal::Decimal;

use crate::model::{EventId, EventKind, LotId, ReceiptId, SaleId, Sku};

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
    #[error("{kind} {id} is invalid: {reason}")]
    InvalidEvent { kind: EventKind, id: String, reason: String },
    #[error("return {return_id} names sale {sale_id}, which is not loaded")]
    UnknownSale { return_id: EventId, sale_id: SaleId },
    #[error("{kind} {id} names lot {lot_id}, which is not loaded")]
    UnknownLot { kind: EventKind, id: EventId, lot_id: LotId },
    #[error("landed cost {landed_cost_id} names receipt {receipt_id}, which no loaded lot has")]
    UnknownReceipt { landed_cost_id: EventId, receipt_id: ReceiptId },
    #[error("adjustment {adjustment_id} adds stock but has no unit_cost to value it at")]
    AdjustmentWithoutCost { adjustment_id: EventId },
    #[error(
        "return {return_id} gives back {requested} of sale {sale_id}, but only {returnable} of it is not returned yet"
    )]
    ReturnExceedsSale { return_id: EventId, sale_id: SaleId, requested: Decimal, returnable: Decimal },
    #[error("{kind} {id} needs {short} more of {sku} than its layers held ({on_hand})")]
    Uncovered { kind: EventKind, id: EventId, sku: Sku, short: Decimal, on_hand: Decimal },
    #[error("the cost of {kind} {id} is too large to represent exactly")]
    Overflow { kind: EventKind, id: String },
}
