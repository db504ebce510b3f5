//! `cogs verify`: proves, over one tenant's whole book, what per-row foreign keys
//! proved and more (LEDGER.md, "Speed without per-row keys").

use std::collections::HashMap;

use serde::Serialize;

use super::ServiceError;
use crate::db::{self, BookSlice, Finding, TenantTx};
use crate::engine::Layer;
use crate::engine::{self, LotBook};
use crate::journal::{self, JournalConfig, JournalRequest, Period, Side};
use crate::model::{Allocation, Movement, TenantId};
use crate::money::exact_sum;

/// The most findings kept per check.
const FINDINGS_PER_CHECK: i64 = 100;
/// How long one of verify's statements over the whole book may run: each reads every
/// allocation of the tenant once.
pub(super) const WHOLE_BOOK_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// SKUs compared with a fresh costing at a time: memory holds one slice of the book.
const SKUS_PER_SLICE: usize = 500;

/// What verification found: every check run, with how many records broke it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub tenant_id: TenantId,
    pub checks: Vec<CheckOutcome>,
    /// The first findings of each check.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    pub check: &'static str,
    pub rule: &'static str,
    pub findings: usize,
}

const FRESH_COSTING: (&str, &str) = (
    "book_equals_fresh_costing",
    "for every SKU without backdated input waiting, the live allocations and remaining quantities are exactly \
     what costing its lots and costed sales afresh gives",
);
const FRESH_MOVEMENTS: (&str, &str) = (
    "movements_equal_fresh_costing",
    "for every SKU with movements besides lots and sales and no new input waiting, the live allocations, \
     movements and layers are exactly what costing all its events afresh gives",
);
const JOURNALS: (&str, &str) = (
    "journal_balances",
    "each completed run's journal balances, and its exact cost of sales is the run's total cost less the cost it \
     superseded",
);

/// Checks the tenant's book in one read-only snapshot. A clean book is `Ok` with every
/// check and no finding; any finding is [`ServiceError::BooksInconsistent`], carrying
/// the whole report.
pub async fn verify(pool: &deadpool_postgres::Pool, tenant_id: &TenantId) -> Result<VerifyReport, ServiceError> {
    // The checks join whole tables; planned on statistics from before the last runs,
    // a join of a million rows can turn into a nested loop over them.
    db::refresh_statistics(pool).await?;
    verify_on_fresh_statistics(pool, tenant_id).await
}

/// [`verify`] for a caller that has just refreshed the statistics itself (maintenance,
/// once for all tenants: they are the whole tables', not one tenant's).
pub(super) async fn verify_on_fresh_statistics(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
) -> Result<VerifyReport, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    tx.allow_statements_for(WHOLE_BOOK_STATEMENT_TIMEOUT).await?;
    let mut findings = db::find_broken_rules(&tx, FINDINGS_PER_CHECK).await?;
    findings.extend(compare_with_fresh_costing(&tx).await?);
    findings.extend(compare_movements_with_fresh_costing(&tx).await?);
    findings.extend(check_journals(&tx).await?);
    tx.rollback().await?;
    let rules =
        db::CHECKS.iter().map(|(check, rule, _)| (*check, *rule)).chain([FRESH_COSTING, FRESH_MOVEMENTS, JOURNALS]);
    let checks: Vec<CheckOutcome> = rules
        .map(|(check, rule)| CheckOutcome {
            check,
            rule,
            findings: findings.iter().filter(|f| f.check == check).count(),
        })
        .collect();
    let report = VerifyReport { tenant_id: tenant_id.clone(), checks, findings };
    if report.findings.is_empty() { Ok(report) } else { Err(ServiceError::BooksInconsistent(Box::new(report))) }
}

/// Costs every settled SKU afresh, slice by slice, and compares each SKU's allocations
/// with the book's by digest; for a SKU that differs it names the first sale whose
/// allocations differ. Each lot whose remaining quantity differs is named too.
async fn compare_with_fresh_costing(tx: &TenantTx) -> Result<Vec<Finding>, ServiceError> {
    let mut findings = Vec::new();
    let book: HashMap<String, String> = db::live_sku_digests(tx).await?.into_iter().collect();
    let skus = db::settled_skus(tx).await?;
    for slice in skus.chunks(SKUS_PER_SLICE) {
        let names: Vec<&str> = slice.iter().map(String::as_str).collect();
        let loaded = db::load_book_slice(tx, &names).await?;
        let fresh = match cost_afresh(loaded, &mut findings) {
            Some(fresh) => fresh,
            None => continue,
        };
        for sku in slice {
            let lines = fresh.get(sku.as_str()).map(Vec::as_slice).unwrap_or_default();
            let expected = (!lines.is_empty()).then(|| digest(lines));
            if book.get(sku) != expected.as_ref() {
                let stored = db::load_live_allocations_of_sku(tx, sku).await?;
                findings.push(first_difference(sku, &stored, lines));
            }
        }
        if findings.len() as i64 >= FINDINGS_PER_CHECK {
            findings.truncate(FINDINGS_PER_CHECK as usize);
            break;
        }
    }
    Ok(findings)
}

/// Costs every settled SKU with movements afresh from all its events, slice by slice,
/// and names, per SKU that differs, the first line of the book that does.
async fn compare_movements_with_fresh_costing(tx: &TenantTx) -> Result<Vec<Finding>, ServiceError> {
    let mut findings = Vec::new();
    let skus = db::settled_movement_skus(tx).await?;
    let methods = db::load_settings(tx).await?.methods;
    for slice in skus.chunks(SKUS_PER_SLICE) {
        let names: Vec<&str> = slice.iter().map(String::as_str).collect();
        let events = db::load_sku_events(tx, &names).await?;
        let fresh = engine::cost_events(&events.inputs(&methods));
        let fresh = match fresh {
            Ok(fresh) => fresh,
            Err(error) => {
                let detail = format!("a fresh costing fails: {error}");
                findings.push(Finding { check: FRESH_MOVEMENTS.0, subject: names.join(","), detail });
                continue;
            }
        };
        let (allocations, movements, layers) = db::load_live_costing(tx, &names).await?;
        for sku in &names {
            let book = costing_lines(sku, &allocations, &movements, &layers);
            let afresh = costing_lines(sku, &fresh.allocations(), &fresh.movements, &fresh.layers);
            if book != afresh {
                let at = book.iter().zip(&afresh).position(|(a, b)| a != b).unwrap_or(book.len().min(afresh.len()));
                let shown = |lines: &[String]| lines.get(at).cloned().unwrap_or_else(|| "nothing".into());
                let detail = format!("the book has {:?}, a fresh costing {:?}", shown(&book), shown(&afresh));
                findings.push(Finding { check: FRESH_MOVEMENTS.0, subject: (*sku).to_owned(), detail });
            }
        }
    }
    Ok(findings)
}

/// One SKU's costing as comparable lines, numbers without trailing zeros.
fn costing_lines(sku: &str, allocations: &[Allocation], movements: &[Movement], layers: &[Layer]) -> Vec<String> {
    let allocations = allocations.iter().filter(|a| a.sku.as_str() == sku).map(db::digest_line);
    let movements = movements.iter().filter(|m| m.sku.as_str() == sku).map(|m| {
        let consumer = m.consumer.as_ref().map(ToString::to_string).unwrap_or_default();
        let (quantity, cost) = (m.quantity.normalize(), m.cost.normalize());
        format!("{} {} {} {} {quantity} {cost} {consumer}", m.kind.as_str(), m.event_id, m.event_date, m.layer)
    });
    let layers = layers.iter().filter(|l| l.sku.as_str() == sku).map(|l| {
        let (remaining, unit_cost, landed) =
            (l.remaining_quantity.normalize(), l.unit_cost.normalize(), l.landed.normalize());
        format!("layer {} {} {remaining} {unit_cost} {landed}", l.layer, l.received_date)
    });
    allocations.chain(movements).chain(layers).collect()
}

fn finding(subject: &str, detail: String) -> Finding {
    Finding { check: FRESH_COSTING.0, subject: subject.to_owned(), detail }
}

/// Costs a slice's costed sales against its lots as loaded; notes each lot whose
/// remaining quantity in the book differs from the fresh one. Returns the fresh
/// allocations by SKU, or `None` (with a finding) when they cannot be costed at all.
fn cost_afresh(loaded: BookSlice, findings: &mut Vec<Finding>) -> Option<HashMap<String, Vec<Allocation>>> {
    let mut lots = match LotBook::new(loaded.loaded_lots) {
        Ok(lots) => lots,
        Err(error) => {
            findings.push(finding("lots", error.to_string()));
            return None;
        }
    };
    let fresh = match engine::allocate(&mut lots, &loaded.costed_sales) {
        Ok(fresh) => fresh,
        Err(error) => {
            findings.push(finding("sales", format!("a fresh costing fails: {error}")));
            return None;
        }
    };
    let fresh_remaining: HashMap<&str, _> =
        lots.lots().map(|lot| (lot.lot_id.as_str(), lot.remaining_quantity)).collect();
    for (lot_id, remaining) in &loaded.remaining {
        let fresh = fresh_remaining.get(lot_id.as_str()).copied().unwrap_or_default();
        if fresh != *remaining {
            findings.push(finding(lot_id, format!("remaining {remaining}, a fresh costing leaves {fresh}")));
        }
    }
    let mut by_sku: HashMap<String, Vec<Allocation>> = HashMap::new();
    for allocation in fresh {
        by_sku.entry(allocation.sku.to_string()).or_default().push(allocation);
    }
    Some(by_sku)
}

/// The hex SHA-256 of allocations' digest lines joined by newlines, as the database
/// computes it for the book.
fn digest(allocations: &[Allocation]) -> String {
    let text: Vec<String> = allocations.iter().map(db::digest_line).collect();
    let hash = ring::digest::digest(&ring::digest::SHA256, text.join("\n").as_bytes());
    hash.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Names the first sale of `sku` whose allocations in the book differ from a fresh
/// costing's.
fn first_difference(sku: &str, stored: &[Allocation], fresh: &[Allocation]) -> Finding {
    let lines = |allocations: &[Allocation]| -> Vec<(String, String)> {
        allocations.iter().map(|a| (a.sale_id.to_string(), db::digest_line(a))).collect()
    };
    let (stored, fresh) = (lines(stored), lines(fresh));
    let at = stored.iter().zip(&fresh).position(|(a, b)| a != b).unwrap_or(stored.len().min(fresh.len()));
    match (stored.get(at), fresh.get(at)) {
        (Some((sale, mine)), Some((_, theirs))) => {
            finding(sale, format!("the book has {mine:?}, a fresh costing {theirs:?}"))
        }
        (Some((sale, mine)), None) => finding(sale, format!("the book has {mine:?}, a fresh costing nothing")),
        (None, Some((sale, theirs))) => finding(sale, format!("the book has nothing, a fresh costing {theirs:?}")),
        (None, None) => finding(sku, "the digests differ but the lines agree".into()),
    }
}

/// Builds each completed run's journal by UTC day from the sums in the database and
/// checks that every entry balances and the exact costs add up to the run's total.
/// Accounts and offset do not change whether a journal balances; the defaults serve.
async fn check_journals(tx: &TenantTx) -> Result<Vec<Finding>, ServiceError> {
    let config = JournalConfig::default();
    let mut findings = Vec::new();
    for run in db::completed_runs(tx).await? {
        let subject = run.run_id.to_string();
        let finding = |detail: String| Finding { check: JOURNALS.0, subject: subject.clone(), detail };
        let costs = db::journal_costs(tx, run.run_id, Period::Day, &run.time_zone, false).await?;
        // The cost of sales it moved: Dr COGS / Cr Inventory (its sales and the landed cost
        // they carried); the other lines move other accounts.
        let sales = costs.iter().filter(|cost| cost.pair == journal::SALE).map(|cost| cost.cost);
        let exact = exact_sum(sales).ok_or(ServiceError::AmountOverflow)?;
        let difference = run.total_cogs - run.superseded_cogs;
        if exact != difference {
            findings.push(finding(format!(
                "the journal's lines add up to {exact}, the run's total less what it superseded is {difference}"
            )));
        }
        let request = JournalRequest {
            reference: super::journal_reference(run.run_id),
            period: Period::Day,
            detail: journal::LineDetail::PerSku,
            reversal_date: None,
            locked_through: run.lock_date,
            method: run.mode,
        };
        for entry in journal::build_from_costs(costs, &request, &config)?.entries {
            let (debit, credit) = (entry.total(Side::Debit), entry.total(Side::Credit));
            if debit != credit {
                findings.push(finding(format!("entry {} debits {debit} and credits {credit}", entry.journal_number)));
            }
        }
    }
    Ok(findings)
}
