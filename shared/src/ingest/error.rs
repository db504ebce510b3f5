use serde::Serialize;

use super::RecordKind;

/// What is wrong with one cell, row or header. `as_str` is the stable wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowErrorKind {
    EmptyFile,
    NoRows,
    MissingColumn,
    DuplicateColumn,
    WrongFieldCount,
    InvalidUtf8,
    FieldTooLong,
    RecordTooLong,
    EmptyValue,
    BadId,
    BadNumber,
    TooManyDecimals,
    OutOfRange,
    BadDate,
    NonPositiveQuantity,
    NegativeQuantity,
    NegativeAmount,
    RemainingExceedsOriginal,
    DuplicateId,
    TenantMismatch,
    MalformedCsv,
    ConflictsWithExisting,
    WrongJsonType,
    SizeMismatch,
    BadFlag,
    BadChoice,
    BadTarget,
    ZeroQuantity,
    MissingUnitCost,
    UnexpectedValue,
    UnknownReference,
    DatedBeforeReference,
    ReturnExceedsSale,
    NothingToSpread,
}

impl RowErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowErrorKind::EmptyFile => "empty_file",
            RowErrorKind::NoRows => "no_rows",
            RowErrorKind::MissingColumn => "missing_column",
            RowErrorKind::DuplicateColumn => "duplicate_column",
            RowErrorKind::WrongFieldCount => "wrong_field_count",
            RowErrorKind::InvalidUtf8 => "invalid_utf8",
            RowErrorKind::FieldTooLong => "field_too_long",
            RowErrorKind::RecordTooLong => "record_too_long",
            RowErrorKind::EmptyValue => "empty_value",
            RowErrorKind::BadId => "bad_id",
            RowErrorKind::BadNumber => "bad_number",
            RowErrorKind::TooManyDecimals => "too_many_decimals",
            RowErrorKind::OutOfRange => "out_of_range",
            RowErrorKind::BadDate => "bad_date",
            RowErrorKind::NonPositiveQuantity => "non_positive_quantity",
            RowErrorKind::NegativeQuantity => "negative_quantity",
            RowErrorKind::NegativeAmount => "negative_amount",
            RowErrorKind::RemainingExceedsOriginal => "remaining_exceeds_original",
            RowErrorKind::DuplicateId => "duplicate_id",
            RowErrorKind::TenantMismatch => "tenant_mismatch",
            RowErrorKind::MalformedCsv => "malformed_csv",
            RowErrorKind::ConflictsWithExisting => "conflicts_with_existing",
            RowErrorKind::WrongJsonType => "wrong_json_type",
            RowErrorKind::SizeMismatch => "size_mismatch",
            RowErrorKind::BadFlag => "bad_flag",
            RowErrorKind::BadChoice => "bad_choice",
            RowErrorKind::BadTarget => "bad_target",
            RowErrorKind::ZeroQuantity => "zero_quantity",
            RowErrorKind::MissingUnitCost => "missing_unit_cost",
            RowErrorKind::UnexpectedValue => "unexpected_value",
            RowErrorKind::UnknownReference => "unknown_reference",
            RowErrorKind::DatedBeforeReference => "dated_before_reference",
            RowErrorKind::ReturnExceedsSale => "return_exceeds_sale",
            RowErrorKind::NothingToSpread => "nothing_to_spread",
        }
    }
}

impl Serialize for RowErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem in an input file: the 1-based row (the header is row 1; a row is the
/// line its record starts on), the column when one is to blame, and a sentence for a
/// person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: u64,
    pub column: Option<String>,
    #[serde(rename = "type")]
    pub kind: RowErrorKind,
    pub message: String,
}

impl RowError {
    pub fn new(row: u64, column: Option<&str>, kind: RowErrorKind, message: impl Into<String>) -> Self {
        Self { row, column: column.map(str::to_owned), kind, message: message.into() }
    }

    /// `id` on `row` was already used on row `first`.
    pub fn duplicate_id(kind: RecordKind, row: u64, id: &str, first: u64) -> Self {
        let column = kind.id_column();
        Self::new(
            row,
            Some(column),
            RowErrorKind::DuplicateId,
            format!("{column} {id:?} was already used on row {first}"),
        )
    }

    /// `id` on `row` is already loaded with other values.
    pub fn conflict(kind: RecordKind, row: u64, id: &str) -> Self {
        let column = kind.id_column();
        let message = format!(
            "{column} {id:?} is already loaded with different values; loaded records are not changed by a new file"
        );
        Self::new(row, Some(column), RowErrorKind::ConflictsWithExisting, message)
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "row {}, column {column}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// A file refused as a whole: nothing of it may be loaded. `errors` holds the first
/// [`super::MAX_REPORTED_ERRORS`] problems in file order; `error_count` counts them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("the {kind} file was rejected: {error_count} problem(s), the first being {}", .errors.first().map(ToString::to_string).unwrap_or_default())]
pub struct Rejected {
    pub kind: RecordKind,
    pub error_count: u64,
    pub errors: Vec<RowError>,
}

impl Rejected {
    /// What a reader found ([`super::Reader::finish`]) together with problems found
    /// where the records went (ids used twice in the file, ids already loaded with other
    /// values): `errors` holds the first of them in row order, `count` counts them all.
    /// The file is rejected if either found a problem; problems stay in row order.
    pub fn add_found_elsewhere(
        read: Result<u64, IngestError>,
        kind: RecordKind,
        errors: Vec<RowError>,
        count: u64,
    ) -> Result<u64, IngestError> {
        if count == 0 {
            return read;
        }
        let mut rejected = match read {
            Ok(_) => Rejected { kind, error_count: 0, errors: Vec::new() },
            Err(IngestError::Rejected(rejected)) => rejected,
            Err(io) => return Err(io),
        };
        rejected.error_count += count;
        rejected.errors.extend(errors);
        rejected.errors.sort_by_key(|error| error.row);
        rejected.errors.truncate(super::MAX_REPORTED_ERRORS);
        Err(rejected.into())
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Rejected(#[from] Rejected),
    #[error("reading the {kind} file failed: {source}")]
    Io { kind: RecordKind, source: std::io::Error },
}
