//! model: the domain values every layer shares. Tenant and record ids as validated
//! newtypes, lots, sales, allocations, costing modes; quantities and money as exact
//! `rust_decimal::Decimal`. Depends on nothing else in the crate but `money`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money;

mod movements;

pub use movements::{
    AccountKind, Adjustment, AllocateBy, CustomerReturn, EventKind, LandedCost, LandedTarget, Movement, MovementKind,
    RollForwardLine, StockCount, SupplierReturn, Transfer,
};

/// An instant in UTC; every date in the system is one.
pub type Timestamp = DateTime<Utc>;

/// The longest id, SKU or tenant id accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why a tenant id, record id or SKU was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is {len} bytes long; the limit is {MAX_ID_LEN}")]
    TooLong { len: usize },
    #[error("contains a control character")]
    ControlCharacter,
    #[error("must be lower-case letters and digits in groups joined by single hyphens, like acme-corp")]
    TenantFormat,
}

/// Checks the rules every id shares: not empty, not too long, printable.
fn check_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { len: value.len() });
    }
    if value.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter);
    }
    Ok(())
}

macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        // Shared, not owned: every allocation names its sale, lot and SKU, and cloning
        // an id must not copy it.
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates an id: non-empty, at most [`MAX_ID_LEN`] bytes, no control characters.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_id(&value)?;
                Ok(Self(value.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, shared rather than copied.
            pub fn shared(&self) -> Arc<str> {
                self.0.clone()
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }
    };
}

record_id!(
    /// A merchant's id for one purchase lot, unique within the tenant.
    LotId
);
record_id!(
    /// A merchant's id for one sale, unique within the tenant.
    SaleId
);
record_id!(
    /// A stock-keeping unit: lots feed only sales of the same SKU.
    Sku
);
record_id!(
    /// A merchant's id for one return, supplier return, adjustment, count or landed
    /// cost, unique within its kind and tenant.
    EventId
);
record_id!(
    /// A merchant's id for one delivery, grouping the lots that came in it.
    ReceiptId
);
record_id!(
    /// A place stock is kept (a warehouse, a shop): FIFO and the average run per SKU
    /// and location, and transfers move layers between locations.
    Location
);

impl Location {
    /// Where a row that names no location keeps its stock.
    pub const DEFAULT: &'static str = "main";
}

impl Default for Location {
    /// One shared text for every row at the default location, so that comparing two
    /// of them compares pointers, not text.
    fn default() -> Self {
        static DEFAULT: std::sync::LazyLock<Location> = std::sync::LazyLock::new(|| Location(Location::DEFAULT.into()));
        DEFAULT.clone()
    }
}

impl LotId {
    /// The name of a layer costing made from checked ids (`{return_id}:{lot_id}`,
    /// `adj:{adjustment_id}`, `count:{count_id}`): it may be longer than an id may.
    pub fn layer(name: String) -> Self {
        Self(name.into())
    }

    /// A layer's name as stored: an id, or a name [`LotId::layer`] made.
    pub fn stored(name: String) -> Result<Self, IdError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(if name.is_empty() { IdError::Empty } else { IdError::ControlCharacter });
        }
        Ok(Self(name.into()))
    }
}

impl From<&SaleId> for EventId {
    /// A sale as the event a movement or a shortfall names (the same rules hold).
    fn from(sale_id: &SaleId) -> Self {
        Self(sale_id.0.clone())
    }
}

/// A tenant (one merchant). Format `^[a-z0-9]+(-[a-z0-9]+)*$`, checked before any
/// value reaches SQL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        check_id(&value)?;
        let well_formed = value
            .split('-')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !well_formed {
            return Err(IdError::TenantFormat);
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(value: &str) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

/// How an outflow chooses the layers it draws on, and so what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The oldest layer first.
    #[default]
    Fifo,
    /// A sale that names a lot draws on that lot alone (too little in it parks the SKU
    /// there, like any uncovered sale); a sale that names none, the oldest layer first.
    SpecificIdentification,
    /// Perpetual moving weighted average: an outflow costs its share of what the SKU's
    /// stock is worth (quantity × value ÷ quantity on hand); units still leave the
    /// layers oldest first.
    MovingAverage,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Fifo, Method::SpecificIdentification, Method::MovingAverage];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Fifo => "fifo",
            Method::SpecificIdentification => "specific_identification",
            Method::MovingAverage => "moving_average",
        }
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        Method::ALL.into_iter().find(|method| method.as_str() == value).ok_or_else(|| {
            let known: Vec<&str> = Method::ALL.iter().map(|method| method.as_str()).collect();
            format!("unknown costing method {value:?}; the methods are {}", known.join(", "))
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of costing method: from the start of `from` (local midnight in the time
/// zone the tenant had when it was made, the instant `at`) on, `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodChange {
    pub from: NaiveDate,
    pub at: Timestamp,
    pub method: Method,
}

/// A tenant's costing methods over time: `initial` until the first change, each
/// change's method from its instant on. An event exactly at a change's instant takes
/// the new method.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Methods {
    pub initial: Method,
    /// In order of `at`, each a different day.
    pub changes: Vec<MethodChange>,
}

impl Methods {
    /// FIFO throughout: the default.
    pub const FIFO: Methods = Methods::only(Method::Fifo);

    /// One method throughout.
    pub const fn only(method: Method) -> Self {
        Self { initial: method, changes: Vec::new() }
    }

    /// The method of an event at `instant`.
    pub fn at(&self, instant: Timestamp) -> Method {
        self.changes.iter().rev().find(|change| change.at <= instant).map_or(self.initial, |change| change.method)
    }

    /// The method from the last change on: the one new events take.
    pub fn latest(&self) -> Method {
        self.changes.last().map_or(self.initial, |change| change.method)
    }

    /// Whether any event can be costed by `method`.
    pub fn uses(&self, method: Method) -> bool {
        self.initial == method || self.changes.iter().any(|change| change.method == method)
    }

    /// These methods with `change` deciding everything from its instant on (the
    /// changes from then on are replaced); `None`: `method` throughout.
    pub fn changed(&self, method: Method, change: Option<(NaiveDate, Timestamp)>) -> Self {
        let Some((from, at)) = change else { return Self::only(method) };
        let mut changes: Vec<MethodChange> = self.changes.iter().filter(|c| c.at < at).copied().collect();
        changes.push(MethodChange { from, at, method });
        Self { initial: self.initial, changes }
    }
}

/// What a run does about a difference dated on or before the tenant's lock date:
/// post it in the first open day, naming the period it corrects, or refuse to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPolicy {
    #[default]
    PostInOpenPeriod,
    Refuse,
}

impl LockPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            LockPolicy::PostInOpenPeriod => "post_in_open_period",
            LockPolicy::Refuse => "refuse",
        }
    }
}

impl FromStr for LockPolicy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "post_in_open_period" => Ok(LockPolicy::PostInOpenPeriod),
            "refuse" => Ok(LockPolicy::Refuse),
            other => Err(format!("unknown lock policy {other:?}; use post_in_open_period or refuse")),
        }
    }
}

/// What a run does with a sale the layers cannot cover (LEDGER.md, "Shortfalls"):
/// park its SKU and cost the others (the default), or fail the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortfallPolicy {
    #[default]
    Park,
    Fail,
}

impl ShortfallPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ShortfallPolicy::Park => "park",
            ShortfallPolicy::Fail => "fail",
        }
    }
}

impl FromStr for ShortfallPolicy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "park" => Ok(ShortfallPolicy::Park),
            "fail" => Ok(ShortfallPolicy::Fail),
            other => Err(format!("unknown shortfall policy {other:?}; use park or fail")),
        }
    }
}

/// A SKU parked by costing (LEDGER.md, "Shortfalls"): its first outflow the layers it
/// could draw on at its instant could not cover (a sale, an adjustment or count deficit,
/// a supplier return larger than its lot held), or a count surplus with no cost to
/// value it at. That event and the SKU's later ones stay uncosted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    pub sku: Sku,
    pub event_kind: EventKind,
    pub event_id: EventId,
    pub event_date: Timestamp,
    /// How much of the event nothing could cover.
    pub quantity_short: Decimal,
    /// What the layers it could draw on held at its instant.
    pub on_hand: Decimal,
    /// Where it fell short: the location whose stock it draws on.
    pub location: Location,
}

impl Shortfall {
    /// The quantities without trailing zeros, as reports show them.
    pub fn normalized(self) -> Self {
        Self { quantity_short: self.quantity_short.normalize(), on_hand: self.on_hand.normalize(), ..self }
    }

    /// The event's place in its SKU's stream, for a sale: (sale_date, sale_id).
    pub fn sale_key(&self) -> Option<(Timestamp, &str)> {
        (self.event_kind == EventKind::Sale).then(|| (self.event_date, self.event_id.as_str()))
    }
}

/// One purchase lot. Invariants (checked by ingest and by SQL constraints):
/// `0 < original_quantity`, `0 <= remaining_quantity <= original_quantity`,
/// `unit_price >= 0`, `freight_cost_per_unit >= 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub lot_id: LotId,
    pub sku: Sku,
    pub received_date: Timestamp,
    pub original_quantity: Decimal,
    pub remaining_quantity: Decimal,
    pub unit_price: Decimal,
    pub freight_cost_per_unit: Decimal,
    /// The delivery the lot came in, which a landed cost may name for all its lots.
    #[serde(default)]
    pub receipt_id: Option<ReceiptId>,
    /// Where it was received.
    #[serde(default)]
    pub location: Location,
}

impl Lot {
    /// The landed cost of one unit: price plus inbound freight (IAS 2 ¶10-11
    /// capitalises freight-in). Exact; `None` if it cannot be represented exactly.
    pub fn unit_cost(&self) -> Option<Decimal> {
        money::exact_add(self.unit_price, self.freight_cost_per_unit)
    }
}

/// One sale of `quantity_sold` units of `sku` at `sale_date`. `quantity_sold > 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub sale_id: SaleId,
    pub sku: Sku,
    pub sale_date: Timestamp,
    pub quantity_sold: Decimal,
    /// The lot the sale names, for specific identification: costed from that lot alone
    /// under that method, ignored under FIFO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_id: Option<LotId>,
    /// Where the goods left from.
    #[serde(default)]
    pub location: Location,
}

impl Sale {
    /// The key sales are costed in: (sale_date, sale_id).
    pub fn costing_key(&self) -> (Timestamp, &SaleId) {
        (self.sale_date, &self.sale_id)
    }
}

/// `quantity` units of one lot (or layer) consumed by one sale, at the lot's unit cost.
/// `extended_cost = quantity × unit_cost`, exact and unrounded; `landed` is what the
/// units cost beyond that: the landed cost they carried out of the layer, and under the
/// moving average the difference to the pool's average (so it may be negative). The
/// sale's cost is both ([`Allocation::cost`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub sale_id: SaleId,
    pub lot_id: LotId,
    pub sku: Sku,
    pub sale_date: Timestamp,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub extended_cost: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub landed: Decimal,
}

impl Allocation {
    /// What the units cost the sale: `extended_cost + landed`, exact; `None` on overflow.
    pub fn cost(&self) -> Option<Decimal> {
        money::exact_add(self.extended_cost, self.landed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_runbook_format() {
        for good in ["acme-corp", "widgets-inc", "a", "t1-2-3"] {
            assert!(TenantId::parse(good).is_ok(), "{good}");
        }
        for bad in ["Acme Corp", "widgets_inc", "test tenant", "-a", "a-", "a--b", "", "x'; drop table lots; --"] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn record_ids_refuse_empty_long_and_control_characters() {
        assert_eq!(LotId::parse(""), Err(IdError::Empty));
        assert_eq!(LotId::parse("a".repeat(MAX_ID_LEN + 1)), Err(IdError::TooLong { len: MAX_ID_LEN + 1 }));
        assert_eq!(SaleId::parse("a\tb"), Err(IdError::ControlCharacter));
        assert!(Sku::parse("WIDGET-A 10 cm").is_ok());
    }
}
