//! Turning the cells of one row into values, recording a [`RowError`] for each cell
//! that cannot be read.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;

use super::{RowError, RowErrorKind};
use crate::model::{IdError, Location, MAX_ID_LEN, TenantId, Timestamp};

/// The longest number or date cell accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 40;
/// Decimal places accepted in a quantity, price or freight cost.
pub const MAX_PLACES: u32 = 6;
/// Numbers must be smaller than this in magnitude (twelve integer digits).
const NUMBER_LIMIT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 10^12
#[cfg(test)]
pub const NUMBER_LIMIT_FOR_TESTS: Decimal = NUMBER_LIMIT;
/// Years accepted in a date.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// The cells of one row, read by column index into the record's required columns.
pub struct Cells<'a> {
    record: &'a csv::ByteRecord,
    positions: &'a [Option<usize>],
    columns: &'static [&'static str],
    row: u64,
    default_location: &'a Location,
    errors: Vec<RowError>,
}

impl<'a> Cells<'a> {
    pub(super) fn new(
        record: &'a csv::ByteRecord,
        positions: &'a [Option<usize>],
        columns: &'static [&'static str],
        row: u64,
        default_location: &'a Location,
    ) -> Self {
        Self { record, positions, columns, row, default_location, errors: Vec::new() }
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub(super) fn into_errors(self) -> Vec<RowError> {
        self.errors
    }

    /// Records a problem with column `column` of this row.
    pub fn reject(&mut self, column: usize, kind: RowErrorKind, message: String) {
        self.errors.push(RowError::new(self.row, Some(self.columns[column]), kind, message));
    }

    /// The cell's bytes; empty when the file has no such (optional) column.
    pub(super) fn raw(&self, column: usize) -> &'a [u8] {
        self.positions[column].and_then(|position| self.record.get(position)).unwrap_or_default()
    }

    /// The cell as text, refusing non-UTF-8 bytes and cells longer than `limit`.
    fn text(&mut self, column: usize, limit: usize) -> Option<&'a str> {
        let raw = self.raw(column);
        if raw.len() > limit {
            let message = format!("the value is {} bytes long; the limit for this column is {limit}", raw.len());
            self.reject(column, RowErrorKind::FieldTooLong, message);
            return None;
        }
        match std::str::from_utf8(raw) {
            Ok(text) => Some(text),
            Err(error) => {
                let message = format!(
                    "the value is not valid UTF-8 (bad byte at offset {}); save the file as UTF-8",
                    error.valid_up_to()
                );
                self.reject(column, RowErrorKind::InvalidUtf8, message);
                None
            }
        }
    }

    /// A non-empty cell, or a recorded `EmptyValue`.
    fn required(&mut self, column: usize, limit: usize) -> Option<&'a str> {
        let text = self.text(column, limit)?;
        if text.is_empty() {
            self.reject(column, RowErrorKind::EmptyValue, format!("{} is empty", self.columns[column]));
            return None;
        }
        Some(text)
    }

    /// An id or SKU, validated by `parse`.
    pub fn id<T>(&mut self, column: usize, parse: fn(String) -> Result<T, IdError>) -> Option<T> {
        let text = self.required(column, MAX_ID_LEN)?;
        match parse(text.to_owned()) {
            Ok(id) => Some(id),
            Err(error) => {
                self.reject(column, RowErrorKind::BadId, format!("{} {text:?} {error}", self.columns[column]));
                None
            }
        }
    }

    /// An optional id: `Some(None)` for an empty cell (or a column the file does not
    /// have), `None` when the cell is refused.
    pub fn optional_id<T>(&mut self, column: usize, parse: fn(String) -> Result<T, IdError>) -> Option<Option<T>> {
        if self.raw(column).is_empty() {
            return Some(None);
        }
        self.id(column, parse).map(Some)
    }

    /// Where a row's stock is: the location named, or the default one when empty.
    pub fn location(&mut self, column: usize) -> Option<Location> {
        let default = self.default_location;
        self.optional_id(column, Location::parse).map(|named| named.unwrap_or_else(|| default.clone()))
    }

    /// Optional free text of at most `limit` bytes, as [`Cells::optional_id`].
    pub fn optional_text(&mut self, column: usize, limit: usize) -> Option<Option<&'a str>> {
        let text = self.text(column, limit)?;
        if text.chars().any(char::is_control) {
            self.reject(column, RowErrorKind::BadId, format!("{} contains a control character", self.columns[column]));
            return None;
        }
        Some((!text.is_empty()).then_some(text))
    }

    /// `true` or `false` (also `yes`/`no`, `y`/`n`, `1`/`0`, in any case).
    pub fn flag(&mut self, column: usize) -> Option<bool> {
        let text = self.required(column, MAX_VALUE_LEN)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Some(true),
            "false" | "no" | "n" | "0" => Some(false),
            _ => {
                let message = format!("{text:?} is not true or false");
                self.reject(column, RowErrorKind::BadFlag, message);
                None
            }
        }
    }

    /// An optional value parsed by `FromStr` (its error is the message), as
    /// [`Cells::optional_id`]; `expected` says what may be written.
    pub fn optional_choice<T: std::str::FromStr>(&mut self, column: usize, expected: &str) -> Option<Option<T>> {
        let text = self.text(column, MAX_VALUE_LEN)?;
        if text.is_empty() {
            return Some(None);
        }
        match text.parse() {
            Ok(value) => Some(Some(value)),
            Err(_) => {
                let message = format!("{text:?} is not one of the choices; write {expected}");
                self.reject(column, RowErrorKind::BadChoice, message);
                None
            }
        }
    }

    /// A plain decimal: optional sign, digits, optional `.` and digits. No exponents,
    /// thousands separators, currency signs or spaces, at most [`MAX_PLACES`] places.
    fn number(&mut self, column: usize) -> Option<Decimal> {
        let text = self.required(column, MAX_VALUE_LEN)?;
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let plain = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !plain(whole) || !plain(fraction) {
            let message = format!(
                "{text:?} is not a plain decimal number; write digits with an optional '.' fraction, like 1250.50 (no thousands separators, exponents or currency signs)"
            );
            self.reject(column, RowErrorKind::BadNumber, message);
            return None;
        }
        let value = Decimal::from_str_exact(text).ok().filter(|value| value.abs() < NUMBER_LIMIT);
        let Some(value) = value else {
            self.reject(
                column,
                RowErrorKind::OutOfRange,
                format!("{text} is too large; values must be below 1000000000000"),
            );
            return None;
        };
        if value.scale() > MAX_PLACES {
            let message = format!("{text} has {} decimal places; at most {MAX_PLACES} are accepted", value.scale());
            self.reject(column, RowErrorKind::TooManyDecimals, message);
            return None;
        }
        Some(value)
    }

    /// A number that must meet `requirement` (said as "it must …" in the message).
    fn bounded(
        &mut self,
        column: usize,
        kind: RowErrorKind,
        requirement: &str,
        ok: fn(Decimal) -> bool,
    ) -> Option<Decimal> {
        let value = self.number(column)?;
        if !ok(value) {
            self.reject(column, kind, format!("{} is {value}; it must {requirement}", self.columns[column]));
            return None;
        }
        Some(value)
    }

    /// A quantity that may be zero but not negative (a lot's remaining quantity).
    pub fn quantity(&mut self, column: usize) -> Option<Decimal> {
        self.bounded(column, RowErrorKind::NegativeQuantity, "not be negative", |value| value >= Decimal::ZERO)
    }

    /// A quantity greater than zero.
    pub fn positive_quantity(&mut self, column: usize) -> Option<Decimal> {
        self.bounded(column, RowErrorKind::NonPositiveQuantity, "be greater than zero", |value| value > Decimal::ZERO)
    }

    /// A price or cost: zero or more.
    pub fn amount(&mut self, column: usize) -> Option<Decimal> {
        self.bounded(column, RowErrorKind::NegativeAmount, "not be negative", |value| value >= Decimal::ZERO)
    }

    /// A quantity that is not zero: positive adds stock, negative takes it out.
    pub fn nonzero_quantity(&mut self, column: usize) -> Option<Decimal> {
        self.bounded(column, RowErrorKind::ZeroQuantity, "not be zero", |value| !value.is_zero())
    }

    /// An amount greater than zero (a bill).
    pub fn positive_amount(&mut self, column: usize) -> Option<Decimal> {
        self.bounded(column, RowErrorKind::NegativeAmount, "be greater than zero", |value| value > Decimal::ZERO)
    }

    /// An optional price or cost: zero or more, or empty.
    pub fn optional_amount(&mut self, column: usize) -> Option<Option<Decimal>> {
        if self.raw(column).is_empty() {
            return Some(None);
        }
        self.amount(column).map(Some)
    }

    /// An ISO 8601 instant with `Z` or an offset, or a bare date meaning midnight UTC.
    pub fn date(&mut self, column: usize) -> Option<Timestamp> {
        let text = self.required(column, MAX_VALUE_LEN)?;
        let parsed = match parse_date(text) {
            Ok(instant) => instant,
            Err(message) => {
                self.reject(column, RowErrorKind::BadDate, message);
                return None;
            }
        };
        if !YEARS.contains(&parsed.year()) {
            let message =
                format!("{text} is out of range; years from {} to {} are accepted", YEARS.start(), YEARS.end());
            self.reject(column, RowErrorKind::OutOfRange, message);
            return None;
        }
        Some(parsed)
    }

    /// Refuses a non-empty tenant cell that names another tenant.
    pub(super) fn check_tenant(&mut self, position: usize, tenant: &TenantId) {
        let raw = self.record.get(position).unwrap_or_default();
        if !raw.is_empty() && raw != tenant.as_str().as_bytes() {
            let shown = String::from_utf8_lossy(&raw[..raw.len().min(MAX_ID_LEN)]);
            let message = format!("tenant_id {shown:?} differs from {tenant}, the tenant this file is loaded for");
            self.errors.push(RowError::new(
                self.row,
                Some(super::TENANT_COLUMN),
                RowErrorKind::TenantMismatch,
                message,
            ));
        }
    }
}

fn parse_date(text: &str) -> Result<Timestamp, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").is_ok()
    {
        return Err(format!("{text:?} has a time but no time zone; add Z for UTC or an offset like +02:00"));
    }
    Err(format!(
        "{text:?} is not a date; write 2024-07-20 (midnight UTC) or 2024-07-20T10:00:00Z (ISO 8601 with Z or an offset)"
    ))
}
