use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::model::{AccountKind, Allocation, Location, LotId, Method, Movement, MovementKind, Sale, SaleId, Sku};

fn d(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn allocation(sku: &str, sold_at: &str, quantity: &str, unit_cost: &str) -> Allocation {
    Allocation {
        sale_id: SaleId::parse(format!("S-{sku}-{sold_at}")).unwrap(),
        lot_id: LotId::parse("L1").unwrap(),
        sku: Sku::parse(sku).unwrap(),
        sale_date: DateTime::parse_from_rfc3339(sold_at).unwrap().with_timezone(&Utc),
        quantity: d(quantity),
        unit_cost: d(unit_cost),
        extended_cost: d(quantity) * d(unit_cost),
        landed: Decimal::ZERO,
    }
}

fn sample() -> Vec<Allocation> {
    vec![
        allocation("WIDGET-A", "2024-07-20T10:00:00Z", "3", "11.00"),
        allocation("WIDGET-B", "2024-07-20T11:00:00Z", "2.5", "4.333"),
        allocation("WIDGET-A", "2024-07-21T09:00:00Z", "1", "12.005"),
        allocation("WIDGET-A", "2024-08-02T09:00:00Z", "7", "0.1"),
    ]
}

fn request(period: Period, detail: LineDetail) -> JournalRequest {
    JournalRequest {
        reference: "RUN-7".into(),
        period,
        detail,
        reversal_date: None,
        locked_through: None,
        method: Method::Fifo,
    }
}

fn built(allocations: &[Allocation], request: &JournalRequest) -> Journal {
    build(allocations, &[], &[], request, &JournalConfig::default()).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn all_requests() -> Vec<JournalRequest> {
    let mut requests = Vec::new();
    for period in [Period::Day, Period::Month, Period::Run] {
        for detail in [LineDetail::PerSku, LineDetail::Single] {
            requests.push(request(period, detail));
            requests.push(JournalRequest { reversal_date: Some(day("2024-09-30")), ..request(period, detail) });
        }
    }
    requests
}

#[test]
fn entries_are_dated_by_sale_day_with_a_line_pair_per_sku() {
    let journal = built(&sample(), &request(Period::Day, LineDetail::PerSku));

    type Summary = (String, NaiveDate, Vec<(String, Side, Decimal)>);
    let summary: Vec<Summary> = journal
        .entries
        .iter()
        .map(|e| {
            (
                e.journal_number.clone(),
                e.date,
                e.lines.iter().map(|l| (l.account.code.clone(), l.side, l.amount)).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "RUN-7-20240720".into(),
                day("2024-07-20"),
                vec![
                    ("5000".into(), Side::Debit, d("33.00")),
                    ("1400".into(), Side::Credit, d("33.00")),
                    ("5000".into(), Side::Debit, d("10.83")), // 10.8325
                    ("1400".into(), Side::Credit, d("10.83")),
                ]
            ),
            (
                "RUN-7-20240721".into(),
                day("2024-07-21"),
                vec![("5000".into(), Side::Debit, d("12.01")), ("1400".into(), Side::Credit, d("12.01"))]
            ),
            (
                "RUN-7-20240802".into(),
                day("2024-08-02"),
                vec![("5000".into(), Side::Debit, d("0.70")), ("1400".into(), Side::Credit, d("0.70"))]
            ),
        ]
    );
}

#[test]
fn a_month_journal_is_dated_at_month_end() {
    let journal = built(&sample(), &request(Period::Month, LineDetail::Single));
    let dates: Vec<(NaiveDate, Decimal)> = journal.entries.iter().map(|e| (e.date, e.total(Side::Debit))).collect();
    // July: 33 + 10.8325 + 12.005 = 55.8375 → 55.84.
    assert_eq!(dates, [(day("2024-07-31"), d("55.84")), (day("2024-08-31"), d("0.70"))]);
}

#[test]
fn a_run_journal_is_one_entry_dated_at_the_last_sale() {
    let journal = built(&sample(), &request(Period::Run, LineDetail::Single));
    assert_eq!(journal.entries.len(), 1);
    assert_eq!(journal.entries[0].date, day("2024-08-02"));
    assert_eq!(journal.entries[0].journal_number, "RUN-7");
    assert_eq!(journal.entries[0].total(Side::Debit), d("56.54")); // 56.5375
}

#[test]
fn the_utc_offset_decides_the_accounting_day() {
    let config =
        JournalConfig { utc_offset: chrono::FixedOffset::west_opt(5 * 3600).unwrap(), ..JournalConfig::default() };
    let allocations = [allocation("A", "2024-07-21T03:00:00Z", "1", "1")];
    let journal = build(&allocations, &[], &[], &request(Period::Day, LineDetail::PerSku), &config).unwrap();
    assert_eq!(journal.entries[0].date, day("2024-07-20"));
}

#[test]
fn per_line_rounding_still_balances_and_totals_the_exact_amount_rounded_once() {
    // Each SKU costs 1.005: rounded alone each is 1.01 (3.03 in all), but the exact
    // total 3.015 rounds to 3.02. The largest line (the first, on a tie) absorbs −0.01.
    let allocations: Vec<Allocation> =
        ["A", "B", "C"].iter().map(|sku| allocation(sku, "2024-07-20T10:00:00Z", "1", "1.005")).collect();

    let journal = built(&allocations, &request(Period::Day, LineDetail::PerSku));

    let entry = &journal.entries[0];
    let debits: Vec<Decimal> = entry.lines.iter().filter(|l| l.side == Side::Debit).map(|l| l.amount).collect();
    assert_eq!(debits, [d("1.00"), d("1.01"), d("1.01")]);
    assert_eq!(entry.total(Side::Debit), d("3.02"));
    assert_eq!(entry.total(Side::Credit), d("3.02"));
}

#[test]
fn rounding_is_half_away_from_zero_not_to_even() {
    let journal =
        built(&[allocation("A", "2024-07-20T10:00:00Z", "1", "0.125")], &request(Period::Day, LineDetail::PerSku));
    assert_eq!(journal.entries[0].total(Side::Debit), d("0.13"));
}

#[test]
fn a_reversal_swaps_sides_and_is_dated_as_asked() {
    let reversal =
        JournalRequest { reversal_date: Some(day("2024-09-30")), ..request(Period::Day, LineDetail::PerSku) };
    let original = built(&sample(), &request(Period::Day, LineDetail::PerSku));

    let reversed = built(&sample(), &reversal);

    assert!(reversed.reversal);
    assert_eq!(reversed.entries.len(), original.entries.len());
    for (rev, orig) in reversed.entries.iter().zip(&original.entries) {
        assert_eq!(rev.date, day("2024-09-30"));
        assert_eq!(rev.journal_number, format!("REV-{}", orig.journal_number));
        for (r, o) in rev.lines.iter().zip(&orig.lines) {
            assert_eq!((r.side, r.amount), (o.side, o.amount));
            let swapped = if o.account.code == "5000" { "1400" } else { "5000" };
            assert_eq!(r.account.code, swapped);
        }
    }
}

#[test]
fn lines_that_round_to_zero_are_left_out() {
    let allocations =
        [allocation("FREE", "2024-07-20T10:00:00Z", "5", "0"), allocation("A", "2024-07-20T10:00:00Z", "1", "2")];
    let journal = built(&allocations, &request(Period::Day, LineDetail::PerSku));
    assert_eq!(journal.entries[0].lines.len(), 2);
    assert!(built(&allocations[..1], &request(Period::Day, LineDetail::PerSku)).entries.is_empty());
}

/// Found by the `journal` fuzz target: costs below half a cent on many days. Each day
/// is its own posting, rounded on its own; a day that rounds to nothing is left out,
/// so the days' total may differ from the run's total rounded once by up to half a
/// cent per day, while the one-entry journal carries the run's total rounded once.
#[test]
fn each_entry_is_rounded_on_its_own_so_sub_cent_days_are_left_out() {
    let allocations: Vec<Allocation> =
        (1..=9).map(|day| allocation("A", &format!("2024-07-0{day}T10:00:00Z"), "1", "0.004")).collect();

    let by_day = built(&allocations, &request(Period::Day, LineDetail::PerSku));
    let whole_run = built(&allocations, &request(Period::Run, LineDetail::PerSku));

    assert!(by_day.entries.is_empty(), "0.004 a day rounds to nothing");
    assert_eq!(whole_run.entries[0].total(Side::Debit), d("0.04"), "0.036 rounded once");
}

/// Found by the `journal` fuzz target: every entry fits, their sum (which the JSON
/// renderer prints) does not. Refused when built, never a panic when rendered.
#[test]
fn a_journal_whose_entries_cannot_be_totalled_is_refused() {
    let huge = "50000000000000000000000000000";
    let allocations =
        [allocation("A", "2024-07-01T10:00:00Z", huge, "1"), allocation("A", "2024-07-02T10:00:00Z", huge, "1")];

    let by_day = build(&allocations, &[], &[], &request(Period::Day, LineDetail::PerSku), &JournalConfig::default());

    assert_eq!(by_day, Err(JournalError::Overflow));
    assert!(
        build(&allocations[..1], &[], &[], &request(Period::Day, LineDetail::PerSku), &JournalConfig::default())
            .is_ok()
    );
}

#[test]
fn accounts_come_from_configuration() {
    let config = JournalConfig {
        chart: ChartOfAccounts::default().overlaid(
            &std::collections::BTreeMap::from([
                (AccountKind::Cogs, Account { code: "310".into(), name: "COGS".into() }),
                (AccountKind::Inventory, Account { code: "630".into(), name: "Stock".into() }),
            ]),
            &[],
            &std::collections::BTreeMap::new(),
        ),
        ..JournalConfig::default()
    };
    let journal = build(&sample(), &[], &[], &request(Period::Run, LineDetail::Single), &config).unwrap();
    let codes: Vec<&str> = journal.entries[0].lines.iter().map(|l| l.account.code.as_str()).collect();
    assert_eq!(codes, ["310", "630"]);
}

// ---- formats ----

fn text(journal: &Journal, format: Format) -> String {
    String::from_utf8(render(journal, format).body).unwrap()
}

#[test]
fn every_format_balances_for_every_grouping() {
    for request in all_requests() {
        let journal = built(&sample(), &request);
        for entry in &journal.entries {
            assert_eq!(entry.total(Side::Debit), entry.total(Side::Credit));
        }
        assert_iif_balances(&text(&journal, Format::Iif));
        assert_xero_balances(&text(&journal, Format::Xero));
        assert_csv_balances(&text(&journal, Format::Csv));
        let json: serde_json::Value = serde_json::from_str(&text(&journal, Format::Json)).unwrap();
        assert_eq!(json["total_debit"], json["total_credit"]);
        let qbo: serde_json::Value = serde_json::from_str(&text(&journal, Format::Qbo)).unwrap();
        for entry in qbo.as_array().unwrap() {
            let mut balance = Decimal::ZERO;
            for line in entry["Line"].as_array().unwrap() {
                let amount = d(&line["Amount"].to_string());
                match line["JournalEntryLineDetail"]["PostingType"].as_str().unwrap() {
                    "Debit" => balance += amount,
                    "Credit" => balance -= amount,
                    other => panic!("posting type {other}"),
                }
            }
            assert_eq!(balance, Decimal::ZERO);
        }
    }
}

/// Parses an IIF file back and checks its structure: the three header rows, then
/// TRNS, SPL…, ENDTRNS groups whose amounts sum to zero.
fn assert_iif_balances(iif: &str) -> Vec<Vec<Vec<String>>> {
    assert!(iif.ends_with("\r\n"));
    let rows: Vec<Vec<String>> =
        iif.trim_end_matches("\r\n").split("\r\n").map(|r| r.split('\t').map(str::to_owned).collect()).collect();
    assert_eq!(rows[0].join("\t"), "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO");
    assert_eq!(rows[1].join("\t"), "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO");
    assert_eq!(rows[2], ["!ENDTRNS"]);
    let mut transactions = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    for row in &rows[3..] {
        match row[0].as_str() {
            "TRNS" => assert!(current.is_empty(), "TRNS opens a transaction"),
            "SPL" => assert!(!current.is_empty(), "SPL follows TRNS"),
            "ENDTRNS" => {
                let sum: Decimal = current.iter().map(|r| d(&r[5])).sum();
                assert_eq!(sum, Decimal::ZERO, "transaction {current:?}");
                transactions.push(std::mem::take(&mut current));
                continue;
            }
            other => panic!("unexpected IIF row {other}"),
        }
        assert_eq!(row.len(), 8);
        assert_eq!(row[2], "GENERAL JOURNAL");
        assert!(NaiveDate::parse_from_str(&row[3], "%m/%d/%Y").is_ok(), "{}", row[3]);
        current.push(row.clone());
    }
    assert!(current.is_empty(), "the last transaction is closed");
    transactions
}

/// Parses a Xero CSV back: every Narration+Date group sums to zero.
fn assert_xero_balances(csv_text: &str) -> BTreeMap<(String, String), Vec<csv::StringRecord>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount"]);
    let mut journals: BTreeMap<(String, String), Vec<csv::StringRecord>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        assert!(NaiveDate::parse_from_str(&record[1], "%d/%m/%Y").is_ok(), "{}", &record[1]);
        journals.entry((record[0].to_owned(), record[1].to_owned())).or_default().push(record);
    }
    for (key, lines) in &journals {
        assert!(lines.len() >= 2);
        let sum: Decimal = lines.iter().map(|r| d(&r[5])).sum();
        assert_eq!(sum, Decimal::ZERO, "journal {key:?}");
    }
    journals
}

fn assert_csv_balances(csv_text: &str) {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut by_journal: BTreeMap<String, Decimal> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let debit = if record[7].is_empty() { Decimal::ZERO } else { d(&record[7]) };
        let credit = if record[8].is_empty() { Decimal::ZERO } else { d(&record[8]) };
        *by_journal.entry(record[0].to_owned()).or_default() += debit - credit;
    }
    assert!(by_journal.values().all(Decimal::is_zero), "{by_journal:?}");
}

#[test]
fn the_iif_file_reads_back_line_by_line() {
    let journal = built(&sample(), &request(Period::Day, LineDetail::PerSku));

    let transactions = assert_iif_balances(&text(&journal, Format::Iif));

    assert_eq!(transactions.len(), 3);
    let first: Vec<String> = transactions[0].iter().map(|r| r.join("|")).collect();
    assert_eq!(
        first,
        [
            "TRNS||GENERAL JOURNAL|07/20/2024|Cost of Goods Sold|33.00|RUN-7-20240720|Cost of Goods Sold WIDGET-A",
            "SPL||GENERAL JOURNAL|07/20/2024|Inventory|-33.00|RUN-7-20240720|Inventory WIDGET-A",
            "SPL||GENERAL JOURNAL|07/20/2024|Cost of Goods Sold|10.83|RUN-7-20240720|Cost of Goods Sold WIDGET-B",
            "SPL||GENERAL JOURNAL|07/20/2024|Inventory|-10.83|RUN-7-20240720|Inventory WIDGET-B",
        ]
    );
}

#[test]
fn the_xero_file_reads_back_line_by_line() {
    let journal = built(&sample(), &request(Period::Month, LineDetail::PerSku));

    let journals = assert_xero_balances(&text(&journal, Format::Xero));

    let july = &journals[&("FIFO COGS RUN-7 2024-07-31".to_owned(), "31/07/2024".to_owned())];
    let lines: Vec<String> = july.iter().map(|r| r.iter().skip(2).collect::<Vec<_>>().join("|")).collect();
    // WIDGET-A in July: 33 + 12.005 = 45.005 → 45.01; WIDGET-B 10.8325 → 10.83; the
    // exact total 55.8375 → 55.84 = 45.01 + 10.83.
    assert_eq!(
        lines,
        [
            "Cost of Goods Sold WIDGET-A|5000|Tax Exempt|45.01",
            "Inventory WIDGET-A|1400|Tax Exempt|-45.01",
            "Cost of Goods Sold WIDGET-B|5000|Tax Exempt|10.83",
            "Inventory WIDGET-B|1400|Tax Exempt|-10.83",
        ]
    );
    assert_eq!(journals.len(), 2);
}

fn amount(text: &str) -> serde_json::Number {
    text.parse().unwrap()
}

#[test]
fn the_qbo_body_follows_the_journal_entry_shape() {
    let journal = built(&sample(), &request(Period::Run, LineDetail::Single));
    let qbo: serde_json::Value = serde_json::from_str(&text(&journal, Format::Qbo)).unwrap();
    assert_eq!(
        qbo,
        serde_json::json!([{
            "DocNumber": "RUN-7",
            "TxnDate": "2024-08-02",
            "PrivateNote": "FIFO COGS RUN-7 2024-08-02",
            "Line": [
                {"Description": "Cost of Goods Sold RUN-7", "Amount": amount("56.54"), "DetailType": "JournalEntryLineDetail",
                 "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": "5000", "name": "Cost of Goods Sold"}}},
                {"Description": "Inventory RUN-7", "Amount": amount("56.54"), "DetailType": "JournalEntryLineDetail",
                 "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": "1400", "name": "Inventory"}}}
            ]
        }])
    );
    assert!(text(&journal, Format::Qbo).contains("\"Amount\": 56.54"), "amounts are exact JSON numbers");
}

#[test]
fn spreadsheet_formulas_in_text_cells_are_kept_inert() {
    let allocations = [allocation("=HYPERLINK(\"http://x\")", "2024-07-20T10:00:00Z", "1", "2")];
    let journal = built(&allocations, &request(Period::Day, LineDetail::PerSku));

    let csv_text = text(&journal, Format::Csv);

    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(&first[6], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&first[7], "2.00", "amounts are not escaped");
}

#[test]
fn an_empty_journal_renders_headers_only() {
    let journal = built(&[], &request(Period::Day, LineDetail::PerSku));
    assert_eq!(text(&journal, Format::Xero), "Narration,Date,Description,AccountCode,TaxRate,Amount\r\n");
    assert_eq!(text(&journal, Format::Qbo), "[]\n");
}

fn movement(kind: MovementKind, sku: &str, at: &str, cost: &str) -> Movement {
    Movement {
        kind,
        sku: Sku::parse(sku).unwrap(),
        event_id: crate::model::EventId::parse("E1").unwrap(),
        event_date: DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
        layer: LotId::parse("L1").unwrap(),
        quantity: d("1"),
        cost: d(cost),
        consumer: None,
        location: Default::default(),
    }
}

/// (account code, signed amount) lines of each entry, in order, as the generic CSV has them.
fn csv_lines(journal: &Journal) -> Vec<String> {
    let body = render(journal, Format::Csv).body;
    csv::Reader::from_reader(body.as_slice())
        .records()
        .map(|row| {
            let row = row.unwrap();
            format!(
                "{} {} {}",
                &row[3],
                &row[6],
                if row[7].is_empty() { format!("-{}", &row[8]) } else { row[7].to_owned() }
            )
        })
        .collect()
}

#[test]
fn every_movement_posts_to_the_accounts_of_its_kind_and_a_sku_rule_sends_cogs_and_inventory_elsewhere() {
    let at = "2024-07-20T10:00:00Z";
    let movements = [
        movement(MovementKind::ReturnRestocked, "COF-1", at, "50"),
        movement(MovementKind::CountDeficit, "COF-1", at, "11"),
        movement(MovementKind::AdjustmentOut, "COF-1", at, "4"),
        movement(MovementKind::AdjustmentIn, "TEA-1", at, "7.50"),
        movement(MovementKind::SupplierReturn, "TEA-1", at, "48"),
        movement(MovementKind::LandedToCogs, "COF-1", at, "40"),
        movement(MovementKind::LandedOnHand, "COF-1", at, "60"),
    ];
    let account = |text: &str| text.parse::<Account>().unwrap();
    let config = JournalConfig {
        chart: ChartOfAccounts {
            sku_rules: vec![SkuRule {
                prefix: "COF-".into(),
                cogs: Some(account("5010:COGS Coffee")),
                inventory: Some(account("1410:Coffee Stock")),
            }],
            ..ChartOfAccounts::default()
        },
        ..JournalConfig::default()
    };
    let sale = allocation("COF-1", at, "2", "30");
    let journal = build(&[sale], &movements, &[], &request(Period::Day, LineDetail::PerSku), &config).unwrap();
    // Lines by SKU, then by accounts (debit code, credit code); write-offs of a count and
    // an adjustment are one line.
    assert_eq!(
        csv_lines(&journal),
        [
            "1410 COF-1 60.00",
            "2160 COF-1 -60.00",
            "1410 COF-1 50.00",
            "5010 COF-1 -50.00",
            "5010 COF-1 60.00",
            "1410 COF-1 -60.00",
            "5010 COF-1 40.00",
            "2160 COF-1 -40.00",
            "5100 COF-1 15.00",
            "1410 COF-1 -15.00",
            "1400 TEA-1 7.50",
            "4900 TEA-1 -7.50",
            "2150 TEA-1 48.00",
            "1400 TEA-1 -48.00",
        ]
    );
}

#[test]
fn a_transfer_posts_between_location_inventory_accounts_only_when_they_differ() {
    let at = "2024-07-20T10:00:00Z";
    let (main, west, east) = (Location::default(), Location::parse("WEST").unwrap(), Location::parse("EAST").unwrap());
    let located = |kind, event: &str, location: &Location, cost| Movement {
        event_id: crate::model::EventId::parse(event).unwrap(),
        location: location.clone(),
        ..movement(kind, "TEA-1", at, cost)
    };
    // T1 moves 30 of stock from main to WEST, T2 5 from WEST to EAST (no account of
    // its own: the inventory account); then 12 sells at WEST.
    let movements = [
        located(MovementKind::TransferOut, "T1", &main, "30"),
        located(MovementKind::TransferIn, "T1", &west, "30"),
        located(MovementKind::TransferOut, "T2", &west, "5"),
        located(MovementKind::TransferIn, "T2", &east, "5"),
    ];
    let sold = allocation("TEA-1", at, "2", "6");
    let sale = Sale {
        sale_id: sold.sale_id.clone(),
        sku: sold.sku.clone(),
        sale_date: sold.sale_date,
        quantity_sold: d("2"),
        lot_id: None,
        location: west.clone(),
    };
    let request = request(Period::Day, LineDetail::PerSku);
    let sales = std::slice::from_ref(&sale);
    let by_default =
        build(std::slice::from_ref(&sold), &movements, sales, &request, &JournalConfig::default()).unwrap();
    assert_eq!(csv_lines(&by_default), ["5000 TEA-1 12.00", "1400 TEA-1 -12.00"], "transfers post nothing");
    let config = JournalConfig {
        chart: ChartOfAccounts {
            locations: BTreeMap::from([(west, "1420:Inventory West".parse().unwrap())]),
            ..ChartOfAccounts::default()
        },
        ..JournalConfig::default()
    };
    let journal = build(std::slice::from_ref(&sold), &movements, sales, &request, &config).unwrap();
    assert_eq!(
        csv_lines(&journal),
        [
            "1400 TEA-1 5.00",
            "1420 TEA-1 -5.00",
            "1420 TEA-1 30.00",
            "1400 TEA-1 -30.00",
            "5000 TEA-1 12.00",
            "1420 TEA-1 -12.00"
        ]
    );
}

#[test]
fn a_xero_journal_over_300_lines_comes_as_whole_balanced_journals_in_one_zip() {
    // 400 SKUs sold on one day: one entry of 800 lines.
    let allocations: Vec<Allocation> =
        (0..400).map(|i| allocation(&format!("SKU-{i:03}"), "2024-07-20T10:00:00Z", "1", "1.25")).collect();
    let journal = built(&allocations, &request(Period::Day, LineDetail::PerSku));
    let rendered = render(&journal, Format::Xero);
    assert_eq!((rendered.file_type.content_type, rendered.file_type.file_extension), ("application/zip", "zip"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(rendered.body)).unwrap();
    assert_eq!(zip.len(), 3);
    let mut debits = Decimal::ZERO;
    for index in 0..zip.len() {
        let mut file = zip.by_index(index).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        let mut journals: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        let mut lines = 0;
        for row in csv::Reader::from_reader(text.as_bytes()).records() {
            let row = row.unwrap();
            let amount = d(&row[5]);
            *journals.entry((row[0].to_owned(), row[1].to_owned())).or_default() += amount;
            debits += amount.max(Decimal::ZERO);
            lines += 1;
        }
        assert!(lines <= 300, "file {index} has {lines} lines");
        assert!(journals.values().all(Decimal::is_zero), "every journal of file {index} balances: {journals:?}");
        assert!(journals.keys().all(|(narration, _)| narration.contains("(part ")), "{journals:?}");
    }
    assert_eq!(debits, d("500.00"), "nothing is lost in the split");
    // Within the limit: one CSV, as before.
    let small = built(&allocations[..150], &request(Period::Day, LineDetail::PerSku));
    assert_eq!(render(&small, Format::Xero).file_type.content_type, "text/csv; charset=utf-8");
}

#[test]
fn xero_tracking_and_a_quickbooks_class_go_on_every_line() {
    let config = JournalConfig {
        xero_tracking: Some(XeroTracking { name: "Channel".into(), option: "Online".into() }),
        qbo_class: Some("42:Retail".parse().unwrap()),
        ..JournalConfig::default()
    };
    let journal = build(&sample()[..1], &[], &[], &request(Period::Day, LineDetail::PerSku), &config).unwrap();
    let xero = String::from_utf8(render(&journal, Format::Xero).body).unwrap();
    assert!(
        xero.starts_with("Narration,Date,Description,AccountCode,TaxRate,Amount,TrackingName1,TrackingOption1\r\n")
    );
    assert!(xero.lines().skip(1).all(|line| line.ends_with(",Channel,Online")), "{xero}");
    let qbo: serde_json::Value = serde_json::from_slice(&render(&journal, Format::Qbo).body).unwrap();
    assert_eq!(
        qbo[0]["Line"][1]["JournalEntryLineDetail"]["ClassRef"],
        serde_json::json!({"value": "42", "name": "Retail"})
    );
    let iif = String::from_utf8(render(&journal, Format::Iif).body).unwrap();
    assert!(iif.lines().nth(3).unwrap().ends_with("\tRetail"), "{iif}");
}
