//! Inline rows: JSON objects (as the runbook's `POST /api/v1/runs` sends them) turned
//! into the CSV a file would hold, so they are validated by exactly the same rules.

use serde_json::{Map, Value};

use super::{Record, Rejected, RowError, RowErrorKind, TENANT_COLUMN};

/// Writes `rows` as CSV with a header of `T`'s columns (and `tenant_id`). Strings are
/// kept as given and numbers as written (exactly, with serde_json's
/// `arbitrary_precision`); a missing key or `null` is an empty cell. Row numbers stay
/// those of the CSV: item `i` (0-based) of the array is row `i + 2`. Booleans, arrays
/// and objects are refused.
pub fn csv_from_json<T: Record>(rows: &[Map<String, Value>]) -> Result<Vec<u8>, Rejected> {
    let columns: Vec<&str> = T::COLUMNS.iter().copied().chain([TENANT_COLUMN]).collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, cells: &[String]| {
        writer.write_record(cells).expect("writing to memory cannot fail")
    };
    write(&mut writer, &columns.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>());
    let mut errors = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let row_number = index as u64 + 2;
        let mut cells = Vec::with_capacity(columns.len());
        for column in &columns {
            cells.push(match row.get(*column) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                Some(other) => {
                    let message = format!("{column} must be a string or a number, not {other}");
                    errors.push(RowError::new(row_number, Some(column), RowErrorKind::WrongJsonType, message));
                    String::new()
                }
            });
        }
        write(&mut writer, &cells);
    }
    if !errors.is_empty() {
        return Err(Rejected { kind: T::KIND, error_count: errors.len() as u64, errors });
    }
    Ok(writer.into_inner().expect("writing to memory cannot fail"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_all;
    use crate::model::{Lot, Sale};

    /// Parsed from text, as a request body is: numbers keep their exact digits.
    fn rows(json: &str) -> Vec<Map<String, Value>> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_runbooks_inline_rows_read_like_a_file() {
        let lots = rows(
            r#"[{"lot_id": "LOT001", "sku": "WIDGET-A", "received_date": "2024-07-01T00:00:00Z",
                 "original_quantity": 500, "remaining_quantity": 500, "unit_price": 10.00,
                 "freight_cost_per_unit": 1.00, "tenant_id": "acme-corp"}]"#,
        );

        let csv = csv_from_json::<Lot>(&lots).unwrap();
        let read: Vec<Lot> = read_all(csv.as_slice(), None).unwrap();

        assert_eq!(read[0].unit_price.to_string(), "10.00", "numbers keep the digits they were written with");
        assert_eq!(read[0].unit_cost().unwrap().to_string(), "11.00");
    }

    #[test]
    fn a_bad_value_is_named_by_the_row_of_its_item() {
        let sales = rows(
            r#"[{"sale_id": "S1", "sku": "A", "sale_date": "2024-07-20", "quantity_sold": 1},
                {"sale_id": "S2", "sku": "A", "sale_date": "2024-07-20", "quantity_sold": 1e3}]"#,
        );
        let csv = csv_from_json::<Sale>(&sales).unwrap();
        let Err(crate::ingest::IngestError::Rejected(rejected)) = read_all::<Sale, _>(csv.as_slice(), None) else {
            panic!("expected a rejection")
        };
        assert_eq!((rejected.errors[0].row, rejected.errors[0].kind), (3, RowErrorKind::BadNumber));

        let wrong = rows(r#"[{"sale_id": true, "sku": "A", "sale_date": "2024-07-20", "quantity_sold": 1}]"#);
        assert_eq!(csv_from_json::<Sale>(&wrong).unwrap_err().errors[0].kind, RowErrorKind::WrongJsonType);
    }
}
