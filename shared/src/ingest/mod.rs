//! ingest: streaming CSV readers for lots and sales. Header mapping (any order, any
//! case, blanks trimmed), UTF-8 BOM, CRLF, per-row validation errors (row, column,
//! message), and the CSV templates. Depends on `model`.
//!
//! A reader yields valid records one at a time and never holds the file: the caller
//! streams them on (into COPY, into the engine) and asks [`Reader::finish`] at the end
//! whether the file as a whole is accepted. One bad row rejects the whole file.

mod error;
mod fields;
mod json;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use error::{IngestError, Rejected, RowError, RowErrorKind};
pub use json::csv_from_json;

use crate::model::{
    Adjustment, AllocateBy, CustomerReturn, EventId, LandedCost, LandedTarget, Location, Lot, LotId, ReceiptId, Sale,
    SaleId, Sku, StockCount, SupplierReturn, TenantId, Transfer,
};
use fields::Cells;

/// At most this many problems are kept for a report; the rest are counted.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The longest record (one row, quoted line breaks included) a file may hold. A row of
/// the columns we read is under a kilobyte; exports carry other columns too (product
/// descriptions, notes), but a record over a mebibyte is not a sales or lots row, and
/// the CSV parser would otherwise hold all of it in memory, however large.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// The kinds of input file: one per kind of stock movement (LEDGER.md, "Events").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Lots,
    Sales,
    Returns,
    SupplierReturns,
    Adjustments,
    Counts,
    LandedCosts,
    Transfers,
}

impl RecordKind {
    pub const ALL: [RecordKind; 8] = [
        RecordKind::Lots,
        RecordKind::Sales,
        RecordKind::Returns,
        RecordKind::SupplierReturns,
        RecordKind::Adjustments,
        RecordKind::Counts,
        RecordKind::LandedCosts,
        RecordKind::Transfers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Lots => "lots",
            RecordKind::Sales => "sales",
            RecordKind::Returns => "returns",
            RecordKind::SupplierReturns => "supplier_returns",
            RecordKind::Adjustments => "adjustments",
            RecordKind::Counts => "counts",
            RecordKind::LandedCosts => "landed_costs",
            RecordKind::Transfers => "transfers",
        }
    }

    /// The column that identifies a record.
    pub fn id_column(self) -> &'static str {
        match self {
            RecordKind::Lots => "lot_id",
            RecordKind::Sales => "sale_id",
            RecordKind::Returns => "return_id",
            RecordKind::SupplierReturns => "supplier_return_id",
            RecordKind::Adjustments => "adjustment_id",
            RecordKind::Counts => "count_id",
            RecordKind::LandedCosts => "landed_cost_id",
            RecordKind::Transfers => "transfer_id",
        }
    }

    /// A header row plus example rows, for merchants to fill in.
    pub fn template(self) -> &'static str {
        match self {
            RecordKind::Lots => concat!(
                "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,receipt_id,location\n",
                "LOT001,WIDGET-A,2024-07-01T00:00:00Z,500,500,10.00,1.00,PO-1001,\n",
            ),
            RecordKind::Sales => {
                concat!(
                    "sale_id,sku,sale_date,quantity_sold,lot_id,location\n",
                    "SALE001,WIDGET-A,2024-07-20T10:00:00Z,100,,\n"
                )
            }
            RecordKind::Returns => concat!(
                "return_id,sale_id,return_date,quantity,restock,location\n",
                "RET001,SALE001,2024-07-25T09:00:00Z,2,true,\n",
            ),
            RecordKind::SupplierReturns => {
                concat!(
                    "supplier_return_id,lot_id,return_date,quantity,location\n",
                    "SR001,LOT001,2024-07-22T12:00:00Z,10,\n",
                )
            }
            RecordKind::Adjustments => concat!(
                "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason,lot_id,location\n",
                "ADJ001,WIDGET-A,2024-07-28T17:00:00Z,-3,,damaged in the warehouse,,\n",
                "ADJ002,WIDGET-A,2024-07-29T17:00:00Z,5,11.00,found behind a shelf,,\n",
            ),
            RecordKind::Counts => concat!(
                "count_id,sku,count_date,counted_quantity,unit_cost,location\n",
                "CNT001,WIDGET-A,2024-07-31T23:00:00Z,380,,\n",
            ),
            RecordKind::LandedCosts => concat!(
                "landed_cost_id,lot_id,receipt_id,cost_date,amount,allocate_by\n",
                "LC001,,PO-1001,2024-08-05T00:00:00Z,250.00,quantity\n",
            ),
            RecordKind::Transfers => concat!(
                "transfer_id,sku,from_location,to_location,transfer_date,quantity\n",
                "TR001,WIDGET-A,main,SHOP-1,2024-07-15T08:00:00Z,40\n",
            ),
        }
    }
}

impl std::str::FromStr for RecordKind {
    type Err = String;
    /// A kind by its name (`supplier_returns`), or with hyphens (`supplier-returns`).
    fn from_str(value: &str) -> Result<Self, String> {
        RecordKind::ALL.into_iter().find(|kind| kind.as_str() == value.replace('-', "_")).ok_or_else(|| {
            let names: Vec<&str> = RecordKind::ALL.iter().map(|kind| kind.as_str()).collect();
            format!("{value:?} is not a kind of file; the kinds are {}", names.join(", "))
        })
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The optional column that, when present, must name the tenant the file is loaded for.
pub const TENANT_COLUMN: &str = "tenant_id";

/// A record type read from CSV: its columns and how one row becomes one record.
pub trait Record: Sized {
    const KIND: RecordKind;
    /// The columns read: the first [`Record::REQUIRED`] must be in the header (the first
    /// is the record's id, unique within a file); the others may be left out.
    const COLUMNS: &'static [&'static str];
    const REQUIRED: usize = Self::COLUMNS.len();
    /// What is wrong with a header that has every required column, if anything (a
    /// choice between optional columns, say): the column to blame and why.
    fn header_problem(_has: &dyn Fn(&str) -> bool) -> Option<(&'static str, String)> {
        None
    }
    /// Reads one row; every problem is pushed to `cells`, and `None` returned if any.
    fn from_cells(cells: &mut Cells<'_>) -> Option<Self>;
}

impl Record for Lot {
    const KIND: RecordKind = RecordKind::Lots;
    const COLUMNS: &'static [&'static str] = &[
        "lot_id",
        "sku",
        "received_date",
        "original_quantity",
        "remaining_quantity",
        "unit_price",
        "freight_cost_per_unit",
        "receipt_id",
        "location",
    ];
    const REQUIRED: usize = 7;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let lot_id = cells.id(0, LotId::parse);
        let sku = cells.id(1, Sku::parse);
        let received_date = cells.date(2);
        let original_quantity = cells.positive_quantity(3);
        let remaining_quantity = cells.quantity(4);
        let unit_price = cells.amount(5);
        let freight_cost_per_unit = cells.amount(6);
        let receipt_id = cells.optional_id(7, ReceiptId::parse);
        let location = cells.location(8);
        if let (Some(original), Some(remaining)) = (original_quantity, remaining_quantity)
            && remaining > original
        {
            cells.reject(
                4,
                RowErrorKind::RemainingExceedsOriginal,
                format!("remaining_quantity {remaining} is more than original_quantity {original}"),
            );
        }
        Some(Lot {
            lot_id: lot_id?,
            sku: sku?,
            received_date: received_date?,
            original_quantity: original_quantity?,
            remaining_quantity: remaining_quantity?,
            unit_price: unit_price?,
            freight_cost_per_unit: freight_cost_per_unit?,
            receipt_id: receipt_id?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for Sale {
    const KIND: RecordKind = RecordKind::Sales;
    const COLUMNS: &'static [&'static str] = &["sale_id", "sku", "sale_date", "quantity_sold", "lot_id", "location"];
    const REQUIRED: usize = 4;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let sale_id = cells.id(0, SaleId::parse);
        let sku = cells.id(1, Sku::parse);
        let sale_date = cells.date(2);
        let quantity_sold = cells.positive_quantity(3);
        let lot_id = cells.optional_id(4, LotId::parse);
        let location = cells.location(5);
        Some(Sale {
            sale_id: sale_id?,
            sku: sku?,
            sale_date: sale_date?,
            quantity_sold: quantity_sold?,
            lot_id: lot_id?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for CustomerReturn {
    const KIND: RecordKind = RecordKind::Returns;
    const COLUMNS: &'static [&'static str] =
        &["return_id", "sale_id", "return_date", "quantity", "restock", "location"];
    const REQUIRED: usize = 5;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let return_id = cells.id(0, EventId::parse);
        let sale_id = cells.id(1, SaleId::parse);
        let return_date = cells.date(2);
        let quantity = cells.positive_quantity(3);
        let restock = cells.flag(4);
        let location = cells.location(5);
        Some(CustomerReturn {
            return_id: return_id?,
            sale_id: sale_id?,
            return_date: return_date?,
            quantity: quantity?,
            restock: restock?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for SupplierReturn {
    const KIND: RecordKind = RecordKind::SupplierReturns;
    const COLUMNS: &'static [&'static str] = &["supplier_return_id", "lot_id", "return_date", "quantity", "location"];
    const REQUIRED: usize = 4;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let supplier_return_id = cells.id(0, EventId::parse);
        let lot_id = cells.id(1, LotId::parse);
        let return_date = cells.date(2);
        let quantity = cells.positive_quantity(3);
        // Empty: where the lot was received.
        let location = cells.optional_id(4, Location::parse);
        Some(SupplierReturn {
            supplier_return_id: supplier_return_id?,
            lot_id: lot_id?,
            return_date: return_date?,
            quantity: quantity?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

/// The longest reason an adjustment may give, in bytes.
pub const MAX_REASON_LEN: usize = 500;

impl Record for Adjustment {
    const KIND: RecordKind = RecordKind::Adjustments;
    const COLUMNS: &'static [&'static str] =
        &["adjustment_id", "sku", "adjustment_date", "quantity", "unit_cost", "reason", "lot_id", "location"];
    const REQUIRED: usize = 4;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let adjustment_id = cells.id(0, EventId::parse);
        let sku = cells.id(1, Sku::parse);
        let adjustment_date = cells.date(2);
        let quantity = cells.nonzero_quantity(3);
        let unit_cost = cells.optional_amount(4);
        let reason = cells.optional_text(5, MAX_REASON_LEN);
        let lot_id = cells.optional_id(6, LotId::parse);
        let location = cells.location(7);
        if let (Some(quantity), Some(Some(lot_id))) = (quantity, &lot_id)
            && quantity > rust_decimal::Decimal::ZERO
        {
            cells.reject(
                6,
                RowErrorKind::UnexpectedValue,
                format!("quantity {quantity} adds stock, which comes from no lot; leave lot_id ({lot_id}) empty"),
            );
        }
        match (quantity, unit_cost) {
            (Some(quantity), Some(None)) if quantity > rust_decimal::Decimal::ZERO => cells.reject(
                4,
                RowErrorKind::MissingUnitCost,
                format!("quantity {quantity} adds stock, which needs a unit_cost to value it at"),
            ),
            (Some(quantity), Some(Some(cost))) if quantity < rust_decimal::Decimal::ZERO => cells.reject(
                4,
                RowErrorKind::UnexpectedValue,
                format!(
                    "quantity {quantity} takes stock out, which is costed from the layers it draws on; leave unit_cost ({cost}) empty"
                ),
            ),
            _ => {}
        }
        Some(Adjustment {
            adjustment_id: adjustment_id?,
            sku: sku?,
            adjustment_date: adjustment_date?,
            quantity: quantity?,
            unit_cost: unit_cost?,
            reason: reason?.unwrap_or_default().to_owned(),
            lot_id: lot_id?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for StockCount {
    const KIND: RecordKind = RecordKind::Counts;
    const COLUMNS: &'static [&'static str] =
        &["count_id", "sku", "count_date", "counted_quantity", "unit_cost", "location"];
    const REQUIRED: usize = 4;

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let count_id = cells.id(0, EventId::parse);
        let sku = cells.id(1, Sku::parse);
        let count_date = cells.date(2);
        let counted_quantity = cells.quantity(3);
        let unit_cost = cells.optional_amount(4);
        let location = cells.location(5);
        Some(StockCount {
            count_id: count_id?,
            sku: sku?,
            count_date: count_date?,
            counted_quantity: counted_quantity?,
            unit_cost: unit_cost?,
            location: location?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for Transfer {
    const KIND: RecordKind = RecordKind::Transfers;
    const COLUMNS: &'static [&'static str] =
        &["transfer_id", "sku", "from_location", "to_location", "transfer_date", "quantity"];

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let transfer_id = cells.id(0, EventId::parse);
        let sku = cells.id(1, Sku::parse);
        let from_location = cells.id(2, Location::parse);
        let to_location = cells.id(3, Location::parse);
        let transfer_date = cells.date(4);
        let quantity = cells.positive_quantity(5);
        if let (Some(from), Some(to)) = (&from_location, &to_location)
            && from == to
        {
            cells.reject(
                3,
                RowErrorKind::UnexpectedValue,
                format!("to_location {to} is the location the stock leaves; a transfer moves it to another"),
            );
        }
        Some(Transfer {
            transfer_id: transfer_id?,
            sku: sku?,
            from_location: from_location?,
            to_location: to_location?,
            transfer_date: transfer_date?,
            quantity: quantity?,
        })
        .filter(|_| cells.is_clean())
    }
}

impl Record for LandedCost {
    const KIND: RecordKind = RecordKind::LandedCosts;
    const COLUMNS: &'static [&'static str] =
        &["landed_cost_id", "cost_date", "amount", "lot_id", "receipt_id", "allocate_by"];
    const REQUIRED: usize = 3;

    fn header_problem(has: &dyn Fn(&str) -> bool) -> Option<(&'static str, String)> {
        (!has("lot_id") && !has("receipt_id")).then(|| {
            (
                "lot_id",
                "the header has neither lot_id nor receipt_id; a landed_costs file names what each cost is for".into(),
            )
        })
    }

    fn from_cells(cells: &mut Cells<'_>) -> Option<Self> {
        let landed_cost_id = cells.id(0, EventId::parse);
        let cost_date = cells.date(1);
        let amount = cells.positive_amount(2);
        let lot_id = cells.optional_id(3, LotId::parse);
        let receipt_id = cells.optional_id(4, ReceiptId::parse);
        let allocate_by =
            cells.optional_choice(5, "quantity or value").map(|choice| choice.unwrap_or(AllocateBy::Quantity));
        let target = match (lot_id, receipt_id) {
            (Some(Some(lot_id)), Some(None)) => Some(LandedTarget::Lot(lot_id)),
            (Some(None), Some(Some(receipt_id))) => Some(LandedTarget::Receipt(receipt_id)),
            (Some(lot), Some(receipt)) => {
                let message = if lot.is_some() && receipt.is_some() {
                    "give lot_id or receipt_id, not both: a cost is for one lot or for one delivery's lots"
                } else {
                    "lot_id and receipt_id are both empty; name the lot or the delivery the cost is for"
                };
                cells.reject(3, RowErrorKind::BadTarget, message.into());
                None
            }
            _ => None,
        };
        Some(LandedCost {
            landed_cost_id: landed_cost_id?,
            target: target?,
            cost_date: cost_date?,
            amount: amount?,
            allocate_by: allocate_by?,
        })
        .filter(|_| cells.is_clean())
    }
}

/// Reads sales from CSV. See [`Reader`].
pub fn read_sales<R: Read>(input: R, tenant: Option<&TenantId>) -> Result<Reader<R, Sale>, IngestError> {
    Reader::new(input, tenant)
}

/// Reads a whole file into memory: for small files and tests. Large files stream
/// through [`Reader`] instead.
pub fn read_all<T: Record, R: Read>(input: R, tenant: Option<&TenantId>) -> Result<Vec<T>, IngestError> {
    Reader::<R, T>::new(input, tenant)?.records()
}

/// A streaming reader of one CSV file: an iterator over its valid records with their
/// row numbers, in file order. Invalid rows are not yielded; their problems are collected, and
/// [`Reader::finish`] turns them into a [`Rejected`] for the whole file.
///
/// When `tenant` is given, a non-empty `tenant_id` cell must equal it; without one
/// (offline costing) the column is ignored.
pub struct Reader<R: Read, T: Record> {
    csv: csv::Reader<Bounded<R>>,
    /// Where the record being read starts, in bytes: what [`Bounded`] measures from.
    record_start: Arc<AtomicU64>,
    record: csv::ByteRecord,
    /// Position of each of `T::COLUMNS` in the file's header (`None`: an optional
    /// column the file does not have).
    positions: Vec<Option<usize>>,
    tenant_position: Option<usize>,
    header_len: usize,
    tenant: Option<TenantId>,
    /// Where a row with an empty `location` is.
    default_location: Location,
    /// Each id seen, with the row it was first seen on; `None` when the caller checks
    /// ids itself ([`Reader::skip_duplicate_ids`]).
    seen_ids: Option<HashMap<String, u64>>,
    rows_read: u64,
    errors: Vec<RowError>,
    error_count: u64,
    io_error: Option<std::io::Error>,
    /// Set after a record too long to finish: nothing after it can be read.
    stopped: bool,
    _record: PhantomData<T>,
}

impl<R: Read, T: Record> Reader<R, T> {
    /// Reads and checks the header. A missing, duplicated or unreadable header rejects
    /// the file at once.
    pub fn new(input: R, tenant: Option<&TenantId>) -> Result<Self, IngestError> {
        let record_start = Arc::new(AtomicU64::new(0));
        let input = Bounded { inner: input, read: 0, record_start: Arc::clone(&record_start) };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .buffer_capacity(PARSER_BUFFER_BYTES)
            .from_reader(input);
        let mut header = csv::ByteRecord::new();
        let reject = |errors: Vec<RowError>| Rejected { kind: T::KIND, error_count: errors.len() as u64, errors };
        match csv.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => {
                let message = format!(
                    "the file is empty; the first row must be the header: {}",
                    T::COLUMNS[..T::REQUIRED].join(",")
                );
                return Err(reject(vec![RowError::new(1, None, RowErrorKind::EmptyFile, message)]).into());
            }
            Err(error) if is_record_too_long(&error) => return Err(reject(vec![record_too_long(1)]).into()),
            Err(error) => return Err(csv_failure(T::KIND, error, 1).map_or_else(|e| e, |e| reject(vec![e]).into())),
        }
        let (positions, tenant_position, errors) = map_header::<T>(&header);
        if !errors.is_empty() {
            return Err(reject(errors).into());
        }
        record_start.store(csv.position().byte(), Ordering::Relaxed);
        Ok(Self {
            csv,
            record_start,
            record: csv::ByteRecord::new(),
            positions,
            tenant_position,
            header_len: header.len(),
            tenant: tenant.cloned(),
            default_location: Location::default(),
            seen_ids: Some(HashMap::new()),
            rows_read: 0,
            errors: Vec::new(),
            error_count: 0,
            io_error: None,
            stopped: false,
            _record: PhantomData,
        })
    }

    /// Every valid record, read to the end: for small files ([`read_all`]).
    pub fn records(mut self) -> Result<Vec<T>, IngestError> {
        let records: Vec<T> = self.by_ref().map(|(_, record)| record).collect();
        self.finish()?;
        Ok(records)
    }

    /// Puts rows with an empty `location` at `location` (the tenant's default) rather
    /// than at `main`.
    pub fn at_default_location(mut self, location: Location) -> Self {
        self.default_location = location;
        self
    }

    /// Leaves ids used twice in the file to the caller, which checks them where the
    /// records go ([`Rejected::add_found_elsewhere`]): the reader then holds nothing per
    /// row, whatever the file's size.
    pub fn skip_duplicate_ids(mut self) -> Self {
        self.seen_ids = None;
        self
    }

    /// True once any row has been refused: the file will be rejected, so a caller may
    /// stop writing records while reading on to collect every problem.
    pub fn has_errors(&self) -> bool {
        self.error_count > 0
    }

    /// Reads whatever is left, then accepts the file (returning how many data rows it
    /// had) or rejects it with every problem found.
    pub fn finish(mut self) -> Result<u64, IngestError> {
        self.by_ref().for_each(drop);
        if let Some(source) = self.io_error {
            return Err(IngestError::Io { kind: T::KIND, source });
        }
        if self.rows_read == 0 && self.error_count == 0 {
            self.record_errors(vec![RowError::new(2, None, RowErrorKind::NoRows, "the file has a header but no rows")]);
        }
        if self.error_count > 0 {
            return Err(Rejected { kind: T::KIND, error_count: self.error_count, errors: self.errors }.into());
        }
        Ok(self.rows_read)
    }

    fn record_errors(&mut self, errors: Vec<RowError>) {
        self.error_count += errors.len() as u64;
        let room = MAX_REPORTED_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(errors.into_iter().take(room));
    }

    /// Parses the current record, or returns its problems.
    fn parse_current(&mut self, row: u64) -> Result<T, Vec<RowError>> {
        if self.record.len() != self.header_len {
            let message = format!("the row has {} fields but the header has {}", self.record.len(), self.header_len);
            return Err(vec![RowError::new(row, None, RowErrorKind::WrongFieldCount, message)]);
        }
        let mut cells = Cells::new(&self.record, &self.positions, T::COLUMNS, row, &self.default_location);
        if let (Some(position), Some(tenant)) = (self.tenant_position, &self.tenant) {
            cells.check_tenant(position, tenant);
        }
        let parsed = T::from_cells(&mut cells);
        let id = cells.raw(0).to_vec();
        let mut errors = cells.into_errors();
        if let Some(seen_ids) = &mut self.seen_ids
            && let Ok(id) = String::from_utf8(id)
            && !id.is_empty()
        {
            if let Some(&first) = seen_ids.get(&id) {
                errors.push(RowError::duplicate_id(T::KIND, row, &id, first));
            } else {
                seen_ids.insert(id, row);
            }
        }
        match parsed {
            Some(record) if errors.is_empty() => Ok(record),
            _ => Err(errors),
        }
    }
}

impl<R: Read, T: Record> Iterator for Reader<R, T> {
    type Item = (u64, T);

    fn next(&mut self) -> Option<(u64, T)> {
        loop {
            if self.io_error.is_some() || self.stopped {
                return None;
            }
            let row = self.csv.position().line();
            let read = self.csv.read_byte_record(&mut self.record);
            self.record_start.store(self.csv.position().byte(), Ordering::Relaxed);
            match read {
                Ok(false) => return None,
                Ok(true) => {}
                Err(error) if is_record_too_long(&error) => {
                    // The parser cannot go on past a record it did not finish.
                    self.record_errors(vec![record_too_long(row)]);
                    self.stopped = true;
                    return None;
                }
                Err(error) => {
                    match csv_failure(T::KIND, error, row) {
                        Ok(row_error) => self.record_errors(vec![row_error]),
                        Err(IngestError::Io { source, .. }) => self.io_error = Some(source),
                        Err(IngestError::Rejected(rejected)) => self.record_errors(rejected.errors),
                    }
                    continue;
                }
            }
            self.rows_read += 1;
            // A row is the line its record starts on, which counts quoted line breaks;
            // but a bare CR (old Mac files) ends a record without counting as a line,
            // and then the record's own number is the better guide.
            let line = self.record.position().map_or(row, csv::Position::line);
            let row = line.max(self.rows_read + 1);
            match self.parse_current(row) {
                Ok(record) => return Some((row, record)),
                Err(errors) => self.record_errors(errors),
            }
        }
    }
}

/// How much the CSV parser reads ahead of the record it is on.
const PARSER_BUFFER_BYTES: usize = 64 * 1024;

/// The input of the CSV parser, refusing to be read further than [`MAX_RECORD_BYTES`]
/// (plus what the parser reads ahead) past the start of the record being read.
struct Bounded<R> {
    inner: R,
    read: u64,
    record_start: Arc<AtomicU64>,
}

/// The error [`Bounded`] gives once a record is too long.
#[derive(Debug, thiserror::Error)]
#[error("a record is longer than {MAX_RECORD_BYTES} bytes")]
struct RecordTooLong;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let into_record = self.read.saturating_sub(self.record_start.load(Ordering::Relaxed));
        if into_record > MAX_RECORD_BYTES + PARSER_BUFFER_BYTES as u64 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn is_record_too_long(error: &csv::Error) -> bool {
    match error.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<RecordTooLong>()),
        _ => false,
    }
}

fn record_too_long(row: u64) -> RowError {
    let message = format!(
        "the row is longer than {} KiB; a lots or sales row is far shorter: check the file's quoting \
         (an unclosed quote joins every later line into one row)",
        MAX_RECORD_BYTES / 1024
    );
    RowError::new(row, None, RowErrorKind::RecordTooLong, message)
}

/// Sorts a csv failure into a row problem (malformed input) or an I/O failure.
fn csv_failure(kind: RecordKind, error: csv::Error, row: u64) -> Result<RowError, IngestError> {
    let row = error.position().map_or(row, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Err(IngestError::Io { kind, source }),
        other => {
            Ok(RowError::new(row, None, RowErrorKind::MalformedCsv, format!("the row is not valid CSV: {other:?}")))
        }
    }
}

/// Finds each column in the header (names compared without case; a required one must
/// be there), and the optional tenant column. Columns the reader does not know are ignored.
fn map_header<T: Record>(header: &csv::ByteRecord) -> (Vec<Option<usize>>, Option<usize>, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut names: Vec<Option<String>> = Vec::with_capacity(header.len());
    for (position, raw) in header.iter().enumerate() {
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF".as_slice()).filter(|_| position == 0).unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(name) => names.push(Some(name.trim().to_ascii_lowercase())),
            Err(_) => {
                let message = format!("header cell {} is not valid UTF-8; save the file as UTF-8", position + 1);
                errors.push(RowError::new(1, None, RowErrorKind::InvalidUtf8, message));
                names.push(None);
            }
        }
    }
    let find = |column: &str, errors: &mut Vec<RowError>| {
        let mut found = names.iter().enumerate().filter(|(_, name)| name.as_deref() == Some(column)).map(|(i, _)| i);
        let first = found.next();
        if found.next().is_some() {
            errors.push(RowError::new(
                1,
                Some(column),
                RowErrorKind::DuplicateColumn,
                format!("the header names {column} more than once"),
            ));
        }
        first
    };
    let mut positions = Vec::with_capacity(T::COLUMNS.len());
    for (index, column) in T::COLUMNS.iter().enumerate() {
        let position = find(column, &mut errors);
        if position.is_none() && index < T::REQUIRED {
            let required = T::COLUMNS[..T::REQUIRED].join(", ");
            errors.push(RowError::new(
                1,
                Some(column),
                RowErrorKind::MissingColumn,
                format!("the header has no {column} column; a {} file needs {required}", T::KIND),
            ));
        }
        positions.push(position);
    }
    if errors.is_empty()
        && let Some((column, message)) = T::header_problem(&|name| {
            T::COLUMNS.iter().position(|c| *c == name).is_some_and(|index| positions[index].is_some())
        })
    {
        errors.push(RowError::new(1, Some(column), RowErrorKind::MissingColumn, message));
    }
    let tenant_position = find(TENANT_COLUMN, &mut errors);
    (positions, tenant_position, errors)
}
