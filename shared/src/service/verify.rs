//! `cogs verify`: proves, over one tenant's whole book, what per-row foreign keys
//! proved and more (LEDGER.md, "Speed without per-row keys").

use serde::Serialize;

use super::ServiceError;
use crate::db::{self, BookSlice, Finding, TenantTx};
use crate::engine::{self, LotBook};
use crate::journal::{self, JournalConfig, JournalRequest, Period, Side};
use crate::model::{Allocation, TenantId};
use crate::money::exact_sum;

/// The most findings kept per check.
const FINDINGS_PER_CHECK: i64 = 100;
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
const JOURNALS: (&str, &str) =
    ("journal_balances", "each completed run's journal balances, and its exact total is the run's total cost");

/// Checks the tenant's book in one read-only snapshot. A clean book is `Ok` with every
/// check and no finding; any finding is [`ServiceError::BooksInconsistent`], carrying
/// the whole report.
pub async fn verify(pool: &deadpool_postgres::Pool, tenant_id: &TenantId) -> Result<VerifyReport, ServiceError> {
    // The checks join whole tables; planned on statistics from before the last runs,
    // a join of a million rows can turn into a nested loop over them.
    let tx = db::begin(pool, tenant_id).await?;
    db::refresh_statistics(&tx).await?;
    tx.commit().await?;
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let mut findings = db::find_broken_rules(&tx, FINDINGS_PER_CHECK).await?;
    findings.extend(compare_with_fresh_costing(&tx).await?);
    findings.extend(check_journals(&tx).await?);
    tx.rollback().await?;
    let rules = db::CHECKS.iter().map(|(check, rule, _)| (*check, *rule)).chain([FRESH_COSTING, JOURNALS]);
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

/// Costs every settled SKU afresh, slice by slice, and names each sale whose live
/// allocations differ and each lot whose remaining quantity differs.
async fn compare_with_fresh_costing(tx: &TenantTx) -> Result<Vec<Finding>, ServiceError> {
    let mut findings = Vec::new();
    let skus = db::settled_skus(tx).await?;
    for slice in skus.chunks(SKUS_PER_SLICE) {
        let (first, last) = (&slice[0], &slice[slice.len() - 1]);
        let book = db::load_book_slice(tx, first, last).await?;
        findings.extend(slice_findings(book));
        if findings.len() as i64 >= FINDINGS_PER_CHECK {
            findings.truncate(FINDINGS_PER_CHECK as usize);
            break;
        }
    }
    Ok(findings)
}

fn slice_findings(book: BookSlice) -> Vec<Finding> {
    let finding =
        |subject: &str, detail: String| Finding { check: FRESH_COSTING.0, subject: subject.to_owned(), detail };
    let mut lots = match LotBook::new(book.loaded_lots) {
        Ok(lots) => lots,
        Err(error) => return vec![finding("lots", error.to_string())],
    };
    let fresh = match engine::allocate(&mut lots, &book.costed_sales) {
        Ok(fresh) => fresh,
        Err(error) => return vec![finding("sales", format!("a fresh costing fails: {error}"))],
    };
    let mut findings = Vec::new();
    let line = |a: &Allocation| (a.lot_id.clone(), a.quantity.normalize(), a.extended_cost.normalize());
    let mut stored = book.allocations.iter().peekable();
    let mut fresh = fresh.iter().peekable();
    for sale in &book.costed_sales {
        let mine: Vec<_> = std::iter::from_fn(|| stored.next_if(|a| a.sale_id == sale.sale_id)).map(line).collect();
        let theirs: Vec<_> = std::iter::from_fn(|| fresh.next_if(|a| a.sale_id == sale.sale_id)).map(line).collect();
        if mine != theirs {
            findings.push(finding(sale.sale_id.as_str(), format!("the book has {mine:?}, a fresh costing {theirs:?}")));
        }
    }
    for extra in stored {
        findings.push(finding(extra.sale_id.as_str(), "a live allocation of a sale the book has not costed".into()));
    }
    let fresh_remaining: std::collections::HashMap<&str, _> =
        lots.lots().map(|lot| (lot.lot_id.as_str(), lot.remaining_quantity)).collect();
    for (lot_id, remaining) in &book.remaining {
        let fresh = fresh_remaining.get(lot_id.as_str()).copied().unwrap_or_default();
        if fresh != *remaining {
            findings.push(finding(lot_id, format!("remaining {remaining}, a fresh costing leaves {fresh}")));
        }
    }
    findings
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
        let costs = db::journal_costs(tx, run.run_id, Period::Day, config.utc_offset.local_minus_utc()).await?;
        let exact = exact_sum(costs.iter().map(|cost| cost.cost)).ok_or(ServiceError::AmountOverflow)?;
        if exact != run.total_cogs {
            findings.push(finding(format!("the allocations cost {exact}, the run's total is {}", run.total_cogs)));
        }
        let request = JournalRequest {
            reference: super::journal_reference(run.run_id),
            period: Period::Day,
            detail: journal::LineDetail::PerSku,
            reversal_date: None,
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
