use std::io::Read;

use rust_decimal::Decimal;

use super::*;
use crate::model::{Lot, Sale, TenantId};

const LOTS_HEADER: &str =
    "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit";

fn acme() -> TenantId {
    TenantId::parse("acme-corp").unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn lots(csv: &str) -> Result<Vec<Lot>, IngestError> {
    read_all::<Lot, _>(csv.as_bytes(), Some(&acme()))
}

fn sales(csv: &str) -> Result<Vec<Sale>, IngestError> {
    read_all::<Sale, _>(csv.as_bytes(), Some(&acme()))
}

/// The (row, column, kind) of every problem in a rejected file.
fn problems<T: std::fmt::Debug>(result: Result<Vec<T>, IngestError>) -> Vec<(u64, Option<String>, RowErrorKind)> {
    match result {
        Err(IngestError::Rejected(rejected)) => {
            assert_eq!(rejected.error_count as usize, rejected.errors.len());
            rejected.errors.into_iter().map(|e| (e.row, e.column, e.kind)).collect()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn at(row: u64, column: &str, kind: RowErrorKind) -> (u64, Option<String>, RowErrorKind) {
    (row, Some(column.to_owned()), kind)
}

fn lot_row(row: &str) -> String {
    format!("{LOTS_HEADER}\n{row}\n")
}

fn sale_row(row: &str) -> String {
    format!("sale_id,sku,sale_date,quantity_sold\n{row}\n")
}

#[test]
fn a_valid_lots_file_is_read_in_file_order() {
    let read =
        lots(&lot_row("L1,A,2024-07-01,500,400,10.00,1.00\nL2,B,2024-07-02T08:30:00+02:00,2.5,2.5,3,0")).unwrap();

    assert_eq!(read.len(), 2);
    assert_eq!(read[0].lot_id.as_str(), "L1");
    assert_eq!(read[0].remaining_quantity, d("400"));
    assert_eq!(read[0].unit_cost(), Some(d("11.00")));
    assert_eq!(read[1].received_date.to_rfc3339(), "2024-07-02T06:30:00+00:00");
    assert_eq!(read[1].original_quantity, d("2.5"));
}

#[test]
fn bom_crlf_blanks_any_order_and_case_are_accepted() {
    let csv =
        "\u{feff} Quantity_Sold , sale_id ,SKU, sale_date ,notes\r\n 3 , S1 , A ,2024-07-20T10:00:00Z, ignored \r\n";

    let read = sales(csv).unwrap();

    assert_eq!(read.len(), 1);
    assert_eq!(read[0].sale_id.as_str(), "S1");
    assert_eq!(read[0].sku.as_str(), "A");
    assert_eq!(read[0].quantity_sold, d("3"));
}

#[test]
fn a_bare_date_means_midnight_utc() {
    let read = sales(&sale_row("S1,A,2024-07-20,1")).unwrap();
    assert_eq!(read[0].sale_date.to_rfc3339(), "2024-07-20T00:00:00+00:00");
}

#[test]
fn a_matching_or_empty_tenant_cell_is_accepted() {
    let csv = "sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,A,2024-07-20,1,acme-corp\nS2,A,2024-07-20,1,\n";
    assert_eq!(sales(csv).unwrap().len(), 2);
}

#[test]
fn the_tenant_column_is_not_checked_without_a_tenant() {
    let csv = "sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,A,2024-07-20,1,other\n";
    assert_eq!(read_all::<Sale, _>(csv.as_bytes(), None).unwrap().len(), 1);
}

#[test]
fn a_missing_column_is_named() {
    let csv = "lot_id,sku,received_date,original_quantity,unit_price,freight_cost_per_unit\nL1,A,2024-07-01,5,1,0\n";
    assert_eq!(problems(lots(csv)), [at(1, "remaining_quantity", RowErrorKind::MissingColumn)]);
}

#[test]
fn a_column_named_twice_is_refused() {
    let csv = "sale_id,sku,sale_date,quantity_sold,SKU\nS1,A,2024-07-20,1,A\n";
    assert_eq!(problems(sales(csv)), [at(1, "sku", RowErrorKind::DuplicateColumn)]);
}

#[test]
fn an_empty_file_is_refused() {
    assert_eq!(problems(sales("")), [(1, None, RowErrorKind::EmptyFile)]);
}

#[test]
fn a_header_without_rows_is_refused() {
    assert_eq!(problems(sales("sale_id,sku,sale_date,quantity_sold\n")), [(2, None, RowErrorKind::NoRows)]);
}

#[test]
fn a_bad_number_is_named_with_row_and_column() {
    for bad in ["abc", "1,000", "1e3", "$5", "1 000", "NaN", ".5", "5.", "--1", ""] {
        let csv = format!("sale_id,sku,sale_date,quantity_sold\nS1,A,2024-07-20,\"{bad}\"\n");
        let expected = if bad.is_empty() { RowErrorKind::EmptyValue } else { RowErrorKind::BadNumber };
        assert_eq!(problems(sales(&csv)), [at(2, "quantity_sold", expected)], "{bad:?}");
    }
}

#[test]
fn too_many_decimal_places_are_refused() {
    assert_eq!(
        problems(sales(&sale_row("S1,A,2024-07-20,1.0000001"))),
        [at(2, "quantity_sold", RowErrorKind::TooManyDecimals)]
    );
}

#[test]
fn a_number_too_large_is_refused() {
    assert_eq!(
        problems(sales(&sale_row("S1,A,2024-07-20,1000000000000"))),
        [at(2, "quantity_sold", RowErrorKind::OutOfRange)]
    );
    assert!(sales(&sale_row("S1,A,2024-07-20,999999999999.999999")).is_ok());
}

#[test]
fn a_bad_date_is_named_with_row_and_column() {
    for bad in ["20/07/2024", "2024-13-01", "2024-07-20T10:00:00", "yesterday", "2024-02-30"] {
        assert_eq!(
            problems(sales(&sale_row(&format!("S1,A,{bad},1")))),
            [at(2, "sale_date", RowErrorKind::BadDate)],
            "{bad}"
        );
    }
}

#[test]
fn a_date_out_of_range_is_refused() {
    assert_eq!(problems(sales(&sale_row("S1,A,1899-12-31,1"))), [at(2, "sale_date", RowErrorKind::OutOfRange)]);
}

#[test]
fn a_quantity_of_zero_or_less_is_refused() {
    assert_eq!(
        problems(sales(&sale_row("S1,A,2024-07-20,0"))),
        [at(2, "quantity_sold", RowErrorKind::NonPositiveQuantity)]
    );
    assert_eq!(
        problems(sales(&sale_row("S1,A,2024-07-20,-2"))),
        [at(2, "quantity_sold", RowErrorKind::NonPositiveQuantity)]
    );
    assert_eq!(
        problems(lots(&lot_row("L1,A,2024-07-01,0,0,1,0"))),
        [at(2, "original_quantity", RowErrorKind::NonPositiveQuantity)]
    );
}

#[test]
fn a_negative_remaining_quantity_is_refused() {
    assert_eq!(
        problems(lots(&lot_row("L1,A,2024-07-01,5,-1,1,0"))),
        [at(2, "remaining_quantity", RowErrorKind::NegativeQuantity)]
    );
}

#[test]
fn a_negative_price_or_freight_is_refused() {
    assert_eq!(
        problems(lots(&lot_row("L1,A,2024-07-01,5,5,-1,-0.5"))),
        [
            at(2, "unit_price", RowErrorKind::NegativeAmount),
            at(2, "freight_cost_per_unit", RowErrorKind::NegativeAmount)
        ]
    );
}

#[test]
fn remaining_above_original_is_refused() {
    assert_eq!(
        problems(lots(&lot_row("L1,A,2024-07-01,5,6,1,0"))),
        [at(2, "remaining_quantity", RowErrorKind::RemainingExceedsOriginal)]
    );
}

#[test]
fn a_duplicate_id_names_the_row_it_was_first_used_on() {
    let csv = sale_row("S1,A,2024-07-20,1\nS2,A,2024-07-20,1\nS1,B,2024-07-21,2");
    let Err(IngestError::Rejected(rejected)) = sales(&csv) else { panic!("expected a rejection") };
    assert_eq!(rejected.errors.len(), 1);
    let error = &rejected.errors[0];
    assert_eq!((error.row, error.column.as_deref(), error.kind), (4, Some("sale_id"), RowErrorKind::DuplicateId));
    assert!(error.message.contains("row 2"), "{}", error.message);
}

#[test]
fn an_empty_id_is_refused() {
    assert_eq!(problems(sales(&sale_row(",A,2024-07-20,1"))), [at(2, "sale_id", RowErrorKind::EmptyValue)]);
    assert_eq!(problems(sales(&sale_row("S1,  ,2024-07-20,1"))), [at(2, "sku", RowErrorKind::EmptyValue)]);
}

#[test]
fn a_tenant_cell_naming_another_tenant_is_refused() {
    let csv = "sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,A,2024-07-20,1,other-corp\n";
    assert_eq!(problems(sales(csv)), [at(2, "tenant_id", RowErrorKind::TenantMismatch)]);
}

#[test]
fn non_utf8_bytes_are_named_with_row_and_column() {
    let mut csv = b"sale_id,sku,sale_date,quantity_sold\nS1,".to_vec();
    csv.extend_from_slice(b"caf\xe9,2024-07-20,1\n");
    let result = read_all::<Sale, _>(csv.as_slice(), Some(&acme()));
    assert_eq!(problems(result), [at(2, "sku", RowErrorKind::InvalidUtf8)]);
}

#[test]
fn an_over_long_field_is_refused() {
    let long_id = "X".repeat(10 * 1024);
    assert_eq!(
        problems(sales(&sale_row(&format!("{long_id},A,2024-07-20,1")))),
        [at(2, "sale_id", RowErrorKind::FieldTooLong)]
    );
    assert_eq!(
        problems(sales(&sale_row(&format!("S1,A,2024-07-20,{}", "1".repeat(50))))),
        [at(2, "quantity_sold", RowErrorKind::FieldTooLong)]
    );
}

/// Reads `input`, counting how many bytes the reader asked for.
struct Counted<'a> {
    input: &'a [u8],
    taken: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.taken.set(self.taken.get() + n);
        Ok(n)
    }
}

#[test]
fn a_record_over_a_mebibyte_rejects_the_file_without_being_read_whole() {
    // An unclosed quote on row 3 joins every later line into one record.
    let mut csv = sale_row("S1,A,2024-07-20,1") + "S2,\"A,2024-07-20,1\n";
    while csv.len() < 8 << 20 {
        csv.push_str("S9,A,2024-07-20,1\n");
    }
    let taken = std::rc::Rc::new(std::cell::Cell::new(0));

    let result = read_all::<Sale, _>(Counted { input: csv.as_bytes(), taken: taken.clone() }, Some(&acme()));

    assert_eq!(problems(result), [(3, None, RowErrorKind::RecordTooLong)]);
    assert!(taken.get() < 2 << 20, "read {} bytes of {}", taken.get(), csv.len());
    let header = format!("sale_id,sku,sale_date,quantity_sold{}\nS1,A,2024-07-20,1\n", ",x".repeat(600_000));
    assert_eq!(problems(sales(&header)), [(1, None, RowErrorKind::RecordTooLong)]);
    let just_under = sale_row(&format!("S1,A,2024-07-20,1{}", ",".repeat(900_000)));
    assert_eq!(
        problems(sales(&just_under)),
        [(2, None, RowErrorKind::WrongFieldCount)],
        "a row under the limit is read as usual"
    );
}

#[test]
fn a_row_with_the_wrong_number_of_fields_is_refused() {
    assert_eq!(problems(sales(&sale_row("S1,A,2024-07-20"))), [(2, None, RowErrorKind::WrongFieldCount)]);
}

#[test]
fn every_bad_row_is_reported_and_nothing_is_accepted() {
    let csv = sale_row("S1,A,2024-07-20,1\nS2,A,bad,1\nS3,A,2024-07-20,1\nS4,A,2024-07-20,x");
    let mut reader = read_sales(csv.as_bytes(), Some(&acme())).unwrap();
    let yielded = reader.by_ref().count();
    assert!(reader.has_errors());
    assert_eq!(yielded, 2, "valid rows stream through; the caller discards them when finish rejects");
    assert_eq!(
        problems::<Sale>(reader.finish().map(|_| Vec::new())),
        [at(3, "sale_date", RowErrorKind::BadDate), at(5, "quantity_sold", RowErrorKind::BadNumber)]
    );
}

#[test]
fn rows_are_lines_so_blank_lines_and_quoted_newlines_keep_their_place() {
    let csv = "sale_id,sku,sale_date,quantity_sold,notes\n\nS1,A,2024-07-20,1,\"two\nlines\"\nS2,A,2024-07-20,bad,\n";
    assert_eq!(problems(sales(csv)), [at(5, "quantity_sold", RowErrorKind::BadNumber)]);
}

#[test]
fn bare_carriage_returns_end_rows_too() {
    let csv = "sale_id,sku,sale_date,quantity_sold\r\nS1,A,2024-07-20,1\nS2,A,2024-07-21,1\rS3,A,someday,1\n";
    assert_eq!(problems(sales(csv)), [at(4, "sale_date", RowErrorKind::BadDate)]);
}

#[test]
fn a_control_character_in_an_id_is_refused() {
    assert_eq!(problems(sales(&sale_row("S1,\"A\nB\",2024-07-20,1"))), [at(2, "sku", RowErrorKind::BadId)]);
}

#[test]
fn reported_errors_are_capped_but_all_are_counted() {
    let rows: String = (0..MAX_REPORTED_ERRORS + 5).map(|i| format!("S{i},A,2024-07-20,0\n")).collect();
    let Err(IngestError::Rejected(rejected)) = sales(&format!("sale_id,sku,sale_date,quantity_sold\n{rows}")) else {
        panic!("expected a rejection")
    };
    assert_eq!(rejected.errors.len(), MAX_REPORTED_ERRORS);
    assert_eq!(rejected.error_count, MAX_REPORTED_ERRORS as u64 + 5);
}

#[test]
fn the_templates_are_accepted_by_their_own_readers() {
    assert_eq!(lots(RecordKind::Lots.template()).unwrap().len(), 1);
    assert_eq!(sales(RecordKind::Sales.template()).unwrap().len(), 1);
}

#[test]
fn the_number_limit_is_ten_to_the_twelfth() {
    assert_eq!(fields::NUMBER_LIMIT_FOR_TESTS, Decimal::from(1_000_000_000_000_i64));
}

fn read<T: Record + std::fmt::Debug>(csv: &str) -> Result<Vec<T>, IngestError> {
    read_all::<T, _>(csv.as_bytes(), Some(&acme()))
}

#[test]
fn every_kind_reads_its_own_template() {
    use crate::model::{Adjustment, CustomerReturn, LandedCost, StockCount, SupplierReturn};
    assert_eq!(read::<Lot>(RecordKind::Lots.template()).unwrap()[0].receipt_id.as_ref().unwrap().as_str(), "PO-1001");
    assert_eq!(read::<Sale>(RecordKind::Sales.template()).unwrap().len(), 1);
    assert!(read::<CustomerReturn>(RecordKind::Returns.template()).unwrap()[0].restock);
    assert_eq!(read::<SupplierReturn>(RecordKind::SupplierReturns.template()).unwrap()[0].quantity, d("10"));
    let adjustments = read::<Adjustment>(RecordKind::Adjustments.template()).unwrap();
    assert_eq!((adjustments[0].quantity, adjustments[0].unit_cost), (d("-3"), None));
    assert_eq!((adjustments[1].quantity, adjustments[1].unit_cost), (d("5"), Some(d("11.00"))));
    assert_eq!(adjustments[1].reason, "found behind a shelf");
    assert_eq!(read::<StockCount>(RecordKind::Counts.template()).unwrap()[0].unit_cost, None);
    let landed = read::<LandedCost>(RecordKind::LandedCosts.template()).unwrap();
    assert_eq!(landed[0].target, LandedTarget::Receipt(ReceiptId::parse("PO-1001").unwrap()));
    assert_eq!(landed[0].allocate_by, AllocateBy::Quantity);
}

#[test]
fn a_lots_file_without_receipt_id_is_read_as_before() {
    let read = lots(&lot_row("L1,A,2024-07-01,500,400,10.00,1.00")).unwrap();
    assert_eq!(read[0].receipt_id, None);
}

#[test]
fn bad_movement_rows_are_named_by_row_and_column() {
    use crate::model::{Adjustment, CustomerReturn, LandedCost, StockCount, SupplierReturn};
    assert_eq!(
        problems(read::<CustomerReturn>(
            "return_id,sale_id,return_date,quantity,restock\nR1,S1,2024-07-02,0,true\nR2,S1,2024-07-02,1,maybe\n"
        )),
        [at(2, "quantity", RowErrorKind::NonPositiveQuantity), at(3, "restock", RowErrorKind::BadFlag)]
    );
    assert_eq!(
        problems(read::<SupplierReturn>("supplier_return_id,lot_id,return_date,quantity\nSR1,,2024-07-02,-1\n")),
        [at(2, "lot_id", RowErrorKind::EmptyValue), at(2, "quantity", RowErrorKind::NonPositiveQuantity)]
    );
    assert_eq!(
        problems(read::<Adjustment>(
            "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason\n\
             A1,X,2024-07-02,5,,found\nA2,X,2024-07-02,-1,2.00,lost\nA3,X,2024-07-02,0,,\nA4,X,2024-07-02,1,-1,\n"
        )),
        [
            at(2, "unit_cost", RowErrorKind::MissingUnitCost),
            at(3, "unit_cost", RowErrorKind::UnexpectedValue),
            at(4, "quantity", RowErrorKind::ZeroQuantity),
            at(5, "unit_cost", RowErrorKind::NegativeAmount),
        ]
    );
    assert_eq!(
        problems(read::<StockCount>("count_id,sku,count_date,counted_quantity\nC1,X,2024-07-02,-4\n")),
        [at(2, "counted_quantity", RowErrorKind::NegativeQuantity)]
    );
    assert_eq!(
        problems(read::<LandedCost>(
            "landed_cost_id,lot_id,receipt_id,cost_date,amount,allocate_by\n\
             F1,L1,PO1,2024-07-02,10,quantity\nF2,,,2024-07-02,10,\nF3,L1,,2024-07-02,-5,weight\n"
        )),
        [
            at(2, "lot_id", RowErrorKind::BadTarget),
            at(3, "lot_id", RowErrorKind::BadTarget),
            at(4, "amount", RowErrorKind::NegativeAmount),
            at(4, "allocate_by", RowErrorKind::BadChoice),
        ]
    );
}

#[test]
fn a_landed_costs_header_must_name_a_lot_or_a_receipt_column() {
    use crate::model::LandedCost;
    assert_eq!(
        problems(read::<LandedCost>("landed_cost_id,cost_date,amount\nF1,2024-07-02,10\n")),
        [at(1, "lot_id", RowErrorKind::MissingColumn)]
    );
    let by_lot = read::<LandedCost>("landed_cost_id,cost_date,amount,lot_id\nF1,2024-07-02,10,L1\n").unwrap();
    assert_eq!(by_lot[0].target, LandedTarget::Lot(LotId::parse("L1").unwrap()));
}
