//! The file formats. Each renderer takes a built [`Journal`] and only lays it out.

use std::io::{self, Write};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Account, Entry, Journal, Line, Side};

/// A journal export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Json,
    Iif,
    Xero,
    Qbo,
}

parse_choice!(Format, "journal format", "csv" => Format::Csv, "json" => Format::Json, "iif" => Format::Iif, "xero" => Format::Xero, "qbo" => Format::Qbo);

/// What a download of a journal in some format is: its media type and file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub content_type: &'static str,
    pub file_extension: &'static str,
}

/// A file rendered in memory, with what a download needs to describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: Vec<u8>,
    pub file_type: FileType,
}

const CSV: FileType = FileType { content_type: "text/csv; charset=utf-8", file_extension: "csv" };
const JSON: FileType = FileType { content_type: "application/json", file_extension: "json" };

/// The file `journal` renders to as `format` (Xero's is a zip where one import would
/// not take every line).
pub fn file_type(journal: &Journal, format: Format) -> FileType {
    match format {
        Format::Csv => CSV,
        Format::Json | Format::Qbo => JSON,
        Format::Iif => FileType { content_type: "text/plain; charset=utf-8", file_extension: "iif" },
        Format::Xero if xero_zipped(journal) => FileType { content_type: "application/zip", file_extension: "zip" },
        Format::Xero => CSV,
    }
}

/// Renders `journal` as `format` in memory.
pub fn render(journal: &Journal, format: Format) -> Rendered {
    let mut body = Vec::new();
    write(journal, format, &mut body).expect("writing to memory cannot fail");
    Rendered { body, file_type: file_type(journal, format) }
}

/// Writes `journal` as `format` to `out` (best buffered) as it is laid out: the text of
/// a large journal is never held whole, beside the journal, in memory.
pub fn write(journal: &Journal, format: Format, mut out: impl Write) -> io::Result<()> {
    match format {
        Format::Csv => csv_generic(journal, &mut out),
        Format::Json => json(&generic_json(journal), &mut out),
        Format::Iif => iif(journal, &mut out),
        Format::Xero if xero_zipped(journal) => out.write_all(&xero_zip(journal)),
        Format::Xero => xero(journal, &journal.entries, &mut out),
        Format::Qbo => json(&qbo(journal), &mut out),
    }?;
    out.flush()
}

/// An amount already in cents, always written with two places.
fn cents(amount: Decimal) -> String {
    debug_assert!(amount.scale() <= 2 || amount.normalize().scale() <= 2, "amounts are rounded before rendering");
    format!("{amount:.2}")
}

/// `amount` signed the way IIF and Xero want it: positive debit, negative credit.
fn signed(line: &Line) -> String {
    match line.side {
        Side::Debit => cents(line.amount),
        Side::Credit => cents(-line.amount),
    }
}

/// A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is
/// prefixed with `'`, as OWASP's CSV-injection guidance recommends.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out)
}

fn csv_generic(journal: &Journal, out: impl Write) -> io::Result<()> {
    let mut writer = csv_writer(out);
    writer.write_record([
        "journal_number",
        "date",
        "narration",
        "account_code",
        "account_name",
        "description",
        "sku",
        "debit",
        "credit",
    ])?;
    for entry in &journal.entries {
        for line in &entry.lines {
            let (debit, credit) = match line.side {
                Side::Debit => (cents(line.amount), String::new()),
                Side::Credit => (String::new(), cents(line.amount)),
            };
            writer.write_record([
                &inert(&entry.journal_number),
                &entry.date.format("%Y-%m-%d").to_string(),
                &inert(&entry.narration),
                &inert(&line.account.code),
                &inert(&line.account.name),
                &inert(&line.description),
                &inert(line.sku.as_ref().map_or("", |sku| sku.as_str())),
                &debit,
                &credit,
            ])?;
        }
    }
    writer.flush()
}

fn json(value: &Value, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")
}

fn generic_json(journal: &Journal) -> Value {
    let entries: Vec<Value> = journal
        .entries
        .iter()
        .map(|entry| {
            let lines: Vec<Value> = entry
                .lines
                .iter()
                .map(|line| {
                    json!({
                        "account_code": line.account.code,
                        "account_name": line.account.name,
                        "description": line.description,
                        "sku": line.sku,
                        "side": line.side,
                        "amount": cents(line.amount),
                    })
                })
                .collect();
            json!({
                "journal_number": entry.journal_number,
                "date": entry.date,
                "narration": entry.narration,
                "total_debit": cents(entry.total(Side::Debit)),
                "total_credit": cents(entry.total(Side::Credit)),
                "lines": lines,
            })
        })
        .collect();
    let total = |side| cents(journal.entries.iter().map(|entry| entry.total(side)).sum());
    json!({
        "reference": journal.reference,
        "reversal": journal.reversal,
        "total_debit": total(Side::Debit),
        "total_credit": total(Side::Credit),
        "entries": entries,
    })
}

/// IIF cells are tab-separated with no quoting: tabs, line breaks and quotes in text
/// would break the row, so they become spaces.
fn iif_text(text: &str) -> String {
    text.chars().map(|c| if matches!(c, '\t' | '\r' | '\n' | '"') { ' ' } else { c }).collect()
}

/// QuickBooks Desktop IIF general journal: `!TRNS/!SPL/!ENDTRNS` headers, then per
/// entry one TRNS row (its first line), SPL rows for the rest, and ENDTRNS. Accounts
/// by name; dates MM/DD/YYYY; the amounts of each transaction sum to zero.
fn iif(journal: &Journal, mut out: impl Write) -> io::Result<()> {
    // The class column only when the tenant tracks one: IIF allows almost no variation.
    let (class_header, class) = match &journal.qbo_class {
        Some(class) => ("\tCLASS", format!("\t{}", iif_text(&class.name))),
        None => ("", String::new()),
    };
    write!(out, "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO{class_header}\r\n")?;
    write!(out, "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO{class_header}\r\n")?;
    out.write_all(b"!ENDTRNS\r\n")?;
    for entry in &journal.entries {
        for (index, line) in entry.lines.iter().enumerate() {
            let record = if index == 0 { "TRNS" } else { "SPL" };
            write!(
                out,
                "{record}\t\tGENERAL JOURNAL\t{}\t{}\t{}\t{}\t{}{class}\r\n",
                entry.date.format("%m/%d/%Y"),
                iif_text(&line.account.name),
                signed(line),
                iif_text(&entry.journal_number),
                iif_text(&line.description),
            )?;
        }
        out.write_all(b"ENDTRNS\r\n")?;
    }
    Ok(())
}

/// The most lines Xero's manual journal import takes in one file.
pub const XERO_MAX_LINES: usize = 300;

/// Whether `journal` has more lines than one Xero import takes.
fn xero_zipped(journal: &Journal) -> bool {
    journal.entries.iter().map(|entry| entry.lines.len()).sum::<usize>() > XERO_MAX_LINES
}

/// Xero manual journal import CSVs for a journal with more lines than one import takes,
/// in a zip: each holds whole balanced journals and at most [`XERO_MAX_LINES`] lines
/// (an entry with more lines is cut into parts of whole debit and credit pairs, each
/// balanced, named "part i of n").
fn xero_zip(journal: &Journal) -> Vec<u8> {
    let mut parts: Vec<Entry> = Vec::new();
    for entry in &journal.entries {
        let pieces: Vec<&[Line]> = entry.lines.chunks(XERO_MAX_LINES).collect();
        for (index, lines) in pieces.iter().enumerate() {
            let mut part = Entry { lines: lines.to_vec(), ..entry.clone() };
            if pieces.len() > 1 {
                part.narration = format!("{} (part {} of {})", entry.narration, index + 1, pieces.len());
                part.journal_number = format!("{}-{}", entry.journal_number, index + 1);
            }
            parts.push(part);
        }
    }
    let mut files: Vec<Vec<Entry>> = vec![Vec::new()];
    let mut in_file = 0;
    for part in parts {
        if in_file + part.lines.len() > XERO_MAX_LINES {
            files.push(Vec::new());
            in_file = 0;
        }
        in_file += part.lines.len();
        files.last_mut().expect("one file at least").push(part);
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let count = files.len();
    for (index, entries) in files.iter().enumerate() {
        let name = format!("{}-xero-{:02}-of-{count:02}.csv", journal.reference, index + 1);
        zip.start_file(name, options).expect("writing to memory cannot fail");
        xero(journal, entries, &mut zip).expect("writing to memory cannot fail");
    }
    zip.finish().expect("writing to memory cannot fail").into_inner()
}

/// Xero manual journal import CSV: rows with the same Narration and Date form one
/// journal; Date dd/mm/yyyy; Amount positive for debit, negative for credit; the
/// tracking category and option when the tenant set one.
fn xero(journal: &Journal, entries: &[Entry], out: impl Write) -> io::Result<()> {
    let mut writer = csv_writer(out);
    let mut header = vec!["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount"];
    if journal.xero_tracking.is_some() {
        header.extend(["TrackingName1", "TrackingOption1"]);
    }
    writer.write_record(&header)?;
    for entry in entries {
        for line in &entry.lines {
            let mut row = vec![
                inert(&entry.narration),
                entry.date.format("%d/%m/%Y").to_string(),
                inert(&line.description),
                inert(&line.account.code),
                inert(&journal.xero_tax_rate),
                signed(line),
            ];
            if let Some(tracking) = &journal.xero_tracking {
                row.extend([inert(&tracking.name), inert(&tracking.option)]);
            }
            writer.write_record(&row)?;
        }
    }
    writer.flush()
}

/// QuickBooks Online Accounting API `JournalEntry` bodies, one per entry, as a JSON
/// array: positive amounts with a PostingType, accounts by id (`value`) and name.
fn qbo(journal: &Journal) -> Value {
    Value::Array(journal.entries.iter().map(|entry| qbo_entry(entry, journal.qbo_class.as_ref())).collect())
}

fn qbo_entry(entry: &Entry, class: Option<&Account>) -> Value {
    let lines: Vec<Value> = entry
        .lines
        .iter()
        .map(|line| {
            let amount = serde_json::Number::from_str(&cents(line.amount)).expect("a cents amount is a JSON number");
            let mut detail = json!({
                "PostingType": match line.side { Side::Debit => "Debit", Side::Credit => "Credit" },
                "AccountRef": { "value": line.account.code, "name": line.account.name },
            });
            if let Some(class) = class {
                detail["ClassRef"] = json!({ "value": class.code, "name": class.name });
            }
            json!({
                "Description": line.description,
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": detail,
            })
        })
        .collect();
    json!({
        "DocNumber": entry.journal_number,
        "TxnDate": entry.date,
        "PrivateNote": entry.narration,
        "Line": lines,
    })
}
