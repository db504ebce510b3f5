//! The stock movements besides receipts (lots) and sales (LEDGER.md, "Events"): customer
//! returns, supplier returns, adjustments, counts and landed costs as loaded, and what
//! costing them moves (`Movement`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{EventId, Location, LotId, ReceiptId, SaleId, Sku, Timestamp};

/// A customer's return of `quantity` units of sale `sale_id`. Restocked units come back
/// into stock at the sale's own costs; the others are recorded only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerReturn {
    pub return_id: EventId,
    pub sale_id: SaleId,
    pub return_date: Timestamp,
    pub quantity: Decimal,
    pub restock: bool,
    /// Where restocked units go.
    #[serde(default)]
    pub location: Location,
}

/// Goods sent back to their supplier: `quantity` units out of lot `lot_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierReturn {
    pub supplier_return_id: EventId,
    pub lot_id: LotId,
    pub return_date: Timestamp,
    pub quantity: Decimal,
    /// Where the units leave from: the lot's own location when `None`; elsewhere, the
    /// lot's units transferred there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Stock found (`quantity > 0`, at `unit_cost`) or lost, written off or shrunk
/// (`quantity < 0`, costed like a sale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub adjustment_id: EventId,
    pub sku: Sku,
    pub adjustment_date: Timestamp,
    pub quantity: Decimal,
    pub unit_cost: Option<Decimal>,
    pub reason: String,
    /// The lot stock taken out came from, for specific identification (ignored by the
    /// other methods; only an adjustment that takes stock out may name one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_id: Option<LotId>,
    #[serde(default)]
    pub location: Location,
}

/// A stock count: what was on the shelf at `count_date`. The difference to what the
/// book holds then becomes an adjustment; a surplus is valued at `unit_cost` when
/// given, else at the SKU's latest lot's cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCount {
    pub count_id: EventId,
    pub sku: Sku,
    pub count_date: Timestamp,
    pub counted_quantity: Decimal,
    pub unit_cost: Option<Decimal>,
    /// Where the shelf counted is: the count compares with that location's stock.
    #[serde(default)]
    pub location: Location,
}

/// Stock moved between two locations of the tenant: `quantity` units of `sku` leave
/// `from_location` first in, first out (at the average, under that method) and arrive
/// at `to_location` as layers keeping their cost and their original receipt date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub transfer_id: EventId,
    pub sku: Sku,
    pub from_location: Location,
    pub to_location: Location,
    pub transfer_date: Timestamp,
    pub quantity: Decimal,
}

/// What a landed cost is for: one lot, or every lot of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandedTarget {
    Lot(LotId),
    Receipt(ReceiptId),
}

/// How a landed cost named by receipt is spread over the receipt's lots: by each lot's
/// quantity as loaded, or by its value as loaded (quantity × unit cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocateBy {
    Quantity,
    Value,
}

impl AllocateBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocateBy::Quantity => "quantity",
            AllocateBy::Value => "value",
        }
    }
}

impl FromStr for AllocateBy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "quantity" => Ok(AllocateBy::Quantity),
            "value" => Ok(AllocateBy::Value),
            _ => Err(format!("{value:?} is not a way to spread a cost; write quantity or value")),
        }
    }
}

/// A freight, duty or other bill for goods already received, arriving at `cost_date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandedCost {
    pub landed_cost_id: EventId,
    pub target: LandedTarget,
    pub cost_date: Timestamp,
    pub amount: Decimal,
    pub allocate_by: AllocateBy,
}

/// The kind of an event in a SKU's stream, for what names one (a shortfall, a trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Receipt,
    Return,
    Adjustment,
    LandedCost,
    Transfer,
    Sale,
    SupplierReturn,
    Count,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Receipt => "receipt",
            EventKind::Return => "return",
            EventKind::Adjustment => "adjustment",
            EventKind::LandedCost => "landed_cost",
            EventKind::Transfer => "transfer",
            EventKind::Sale => "sale",
            EventKind::SupplierReturn => "supplier_return",
            EventKind::Count => "count",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str().replace('_', " ").as_str())
    }
}

/// The accounts a journal line can name. Which account code and name each one is comes
/// from the tenant's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Cogs,
    Inventory,
    WriteOff,
    AdjustmentGain,
    SupplierReturnsClearing,
    LandedCostClearing,
}

impl AccountKind {
    pub const ALL: [AccountKind; 6] = [
        AccountKind::Cogs,
        AccountKind::Inventory,
        AccountKind::WriteOff,
        AccountKind::AdjustmentGain,
        AccountKind::SupplierReturnsClearing,
        AccountKind::LandedCostClearing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Cogs => "cogs",
            AccountKind::Inventory => "inventory",
            AccountKind::WriteOff => "write_off",
            AccountKind::AdjustmentGain => "adjustment_gain",
            AccountKind::SupplierReturnsClearing => "supplier_returns_clearing",
            AccountKind::LandedCostClearing => "landed_cost_clearing",
        }
    }
}

/// The line of the roll-forward a value moved by costing falls on (LEDGER.md,
/// "Roll-forward"): receipts and opening balances come from the lots themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollForwardLine {
    LandedCosts,
    RestockedReturns,
    AdjustmentsIn,
    TransfersIn,
    SupplierReturns,
    AdjustmentsOut,
    TransfersOut,
    Cogs,
}

/// What a value moved by costing was, beyond a sale's allocations (which stay
/// [`super::Allocation`]s). One `match` per question (direction, accounts, roll-forward
/// line): a new kind is added there and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Restocked units of a customer return, back into a layer of their own.
    ReturnRestocked,
    /// Units sent back to the supplier out of the named lot.
    SupplierReturn,
    /// Stock found, as a new layer.
    AdjustmentIn,
    /// Stock written off, drawn like a sale.
    AdjustmentOut,
    /// A count's surplus, as a new layer.
    CountSurplus,
    /// A count's deficit, drawn like a sale.
    CountDeficit,
    /// The landed cost a sale took out of a lot's value along with its units (and under
    /// the moving average, what its units cost beyond their layers' unit cost). Kept on
    /// the sale's allocation ([`super::Allocation::landed`]); reports and traces show
    /// it as a line of this kind.
    SaleLanded,
    /// A landed cost's share of units still on hand: raises the lot's value.
    LandedOnHand,
    /// A landed cost's share of units already sold: cost of goods sold, dated the bill's.
    LandedToCogs,
    /// A landed cost's share of units already written off.
    LandedToWriteOff,
    /// A landed cost's share of units already sent back to the supplier.
    LandedToSupplierReturns,
    /// Units leaving a location for another: inventory to inventory, posting nothing
    /// unless locations have inventory accounts of their own.
    TransferOut,
    /// Units arriving from another location, as a layer of their own.
    TransferIn,
}

impl MovementKind {
    pub const ALL: [MovementKind; 13] = [
        MovementKind::ReturnRestocked,
        MovementKind::SupplierReturn,
        MovementKind::AdjustmentIn,
        MovementKind::AdjustmentOut,
        MovementKind::CountSurplus,
        MovementKind::CountDeficit,
        MovementKind::SaleLanded,
        MovementKind::LandedOnHand,
        MovementKind::LandedToCogs,
        MovementKind::LandedToWriteOff,
        MovementKind::LandedToSupplierReturns,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::ReturnRestocked => "return_restocked",
            MovementKind::SupplierReturn => "supplier_return",
            MovementKind::AdjustmentIn => "adjustment_in",
            MovementKind::AdjustmentOut => "adjustment_out",
            MovementKind::CountSurplus => "count_surplus",
            MovementKind::CountDeficit => "count_deficit",
            MovementKind::SaleLanded => "sale_landed",
            MovementKind::LandedOnHand => "landed_on_hand",
            MovementKind::LandedToCogs => "landed_to_cogs",
            MovementKind::LandedToWriteOff => "landed_to_write_off",
            MovementKind::LandedToSupplierReturns => "landed_to_supplier_returns",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
        }
    }

    /// The journal line it posts: (debit, credit). LEDGER.md's table of events.
    pub fn accounts(self) -> (AccountKind, AccountKind) {
        use AccountKind::*;
        match self {
            MovementKind::ReturnRestocked => (Inventory, Cogs),
            MovementKind::SupplierReturn => (SupplierReturnsClearing, Inventory),
            MovementKind::AdjustmentIn | MovementKind::CountSurplus => (Inventory, AdjustmentGain),
            MovementKind::AdjustmentOut | MovementKind::CountDeficit => (WriteOff, Inventory),
            MovementKind::SaleLanded => (Cogs, Inventory),
            MovementKind::LandedOnHand => (Inventory, LandedCostClearing),
            MovementKind::LandedToCogs => (Cogs, LandedCostClearing),
            MovementKind::LandedToWriteOff => (WriteOff, LandedCostClearing),
            MovementKind::LandedToSupplierReturns => (SupplierReturnsClearing, LandedCostClearing),
            MovementKind::TransferOut | MovementKind::TransferIn => (Inventory, Inventory),
        }
    }

    /// Whether it moves value between locations only (nothing in total).
    pub fn is_transfer(self) -> bool {
        matches!(self, MovementKind::TransferOut | MovementKind::TransferIn)
    }

    /// How it moves the inventory's value: +1 in, −1 out, 0 when it passes through (a
    /// landed cost's share of units already gone enters and leaves at once).
    pub fn inventory_sign(self) -> i8 {
        if self.is_transfer() {
            return 0;
        }
        match self.accounts() {
            (AccountKind::Inventory, _) => 1,
            (_, AccountKind::Inventory) => -1,
            _ => 0,
        }
    }

    /// The roll-forward lines it falls on, each with its sign as the identity adds it.
    /// A landed cost's share of units already gone is both a landed cost and the outflow
    /// the units went by, so that COGS, write-offs and supplier returns are gross.
    pub fn roll_forward(self) -> &'static [RollForwardLine] {
        use RollForwardLine::*;
        match self {
            MovementKind::ReturnRestocked => &[RestockedReturns],
            MovementKind::SupplierReturn => &[SupplierReturns],
            MovementKind::AdjustmentIn | MovementKind::CountSurplus => &[AdjustmentsIn],
            MovementKind::AdjustmentOut | MovementKind::CountDeficit => &[AdjustmentsOut],
            MovementKind::SaleLanded => &[Cogs],
            MovementKind::LandedOnHand => &[LandedCosts],
            MovementKind::LandedToCogs => &[LandedCosts, Cogs],
            MovementKind::LandedToWriteOff => &[LandedCosts, AdjustmentsOut],
            MovementKind::LandedToSupplierReturns => &[LandedCosts, SupplierReturns],
            // A SKU's (and the total's) transfers in and out are equal: they move
            // value between its locations only.
            MovementKind::TransferOut => &[TransfersOut],
            MovementKind::TransferIn => &[TransfersIn],
        }
    }

    /// How it moves the value of its own location's stock: as [`Self::inventory_sign`],
    /// and a transfer out of (−1) or into (+1) the location.
    pub fn location_sign(self) -> i8 {
        match self {
            MovementKind::TransferOut => -1,
            MovementKind::TransferIn => 1,
            _ => self.inventory_sign(),
        }
    }

    /// Whether its quantity enters or leaves stock (the others move value only).
    pub fn moves_units(self) -> bool {
        matches!(
            self,
            MovementKind::ReturnRestocked
                | MovementKind::SupplierReturn
                | MovementKind::AdjustmentIn
                | MovementKind::AdjustmentOut
                | MovementKind::CountSurplus
                | MovementKind::CountDeficit
                | MovementKind::TransferOut
                | MovementKind::TransferIn
        )
    }

    /// The kind of event that makes it.
    pub fn event_kind(self) -> EventKind {
        match self {
            MovementKind::ReturnRestocked => EventKind::Return,
            MovementKind::SupplierReturn => EventKind::SupplierReturn,
            MovementKind::AdjustmentIn | MovementKind::AdjustmentOut => EventKind::Adjustment,
            MovementKind::CountSurplus | MovementKind::CountDeficit => EventKind::Count,
            MovementKind::SaleLanded => EventKind::Sale,
            MovementKind::LandedOnHand
            | MovementKind::LandedToCogs
            | MovementKind::LandedToWriteOff
            | MovementKind::LandedToSupplierReturns => EventKind::LandedCost,
            MovementKind::TransferOut | MovementKind::TransferIn => EventKind::Transfer,
        }
    }
}

impl FromStr for MovementKind {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        MovementKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| format!("unknown movement kind {value:?}"))
    }
}

/// One value moved by costing an event other than a sale's draw on its layers.
/// `quantity` is the units the value concerns (for a landed cost's share, the units it
/// falls on; only the kinds of [`MovementKind::moves_units`] change stock); `cost` is
/// exact and never negative. `layer` is the layer fed or drawn: a lot id,
/// `{return_id}:{lot_id}` for restocked units, `adj:{adjustment_id}` or
/// `count:{count_id}` for found stock. `consumer` names, for a landed cost's share of
/// units already gone, the event that took them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub sku: Sku,
    pub event_id: EventId,
    pub event_date: Timestamp,
    pub layer: LotId,
    pub quantity: Decimal,
    pub cost: Decimal,
    pub consumer: Option<EventId>,
    /// Where the layer is.
    pub location: Location,
}
