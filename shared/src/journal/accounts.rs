//! The accounts a journal posts to: one per kind of line (COGS, inventory, write-off,
//! adjustment gain, supplier returns clearing, landed cost clearing), rules that
//! send the COGS and inventory of some SKUs (by prefix) to accounts of their own, and
//! an inventory account per location.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{AccountKind, Location, Sku};

/// A ledger account as the target system knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub code: String,
    pub name: String,
}

impl FromStr for Account {
    type Err = String;
    /// `CODE:NAME`, like `5000:Cost of Goods Sold`.
    fn from_str(value: &str) -> Result<Self, String> {
        let (code, name) =
            value.split_once(':').ok_or_else(|| format!("{value:?} is not CODE:NAME, like 5000:Cost of Goods Sold"))?;
        let account = Account { code: code.trim().to_owned(), name: name.trim().to_owned() };
        if account.code.is_empty() || account.name.is_empty() {
            return Err(format!("{value:?} has an empty code or name; write CODE:NAME, like 5000:Cost of Goods Sold"));
        }
        Ok(account)
    }
}

/// The COGS and inventory accounts of the SKUs whose id starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuRule {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cogs: Option<Account>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Account>,
}

/// Every account a journal line may name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartOfAccounts {
    pub accounts: BTreeMap<AccountKind, Account>,
    /// Checked longest prefix first.
    #[serde(default)]
    pub sku_rules: Vec<SkuRule>,
    /// The inventory account of each location that has one of its own.
    #[serde(default)]
    pub locations: BTreeMap<Location, Account>,
}

impl Default for ChartOfAccounts {
    /// The accounts of a deployment that configured none.
    fn default() -> Self {
        let account = |code: &str, name: &str| Account { code: code.into(), name: name.into() };
        Self {
            accounts: BTreeMap::from([
                (AccountKind::Cogs, account("5000", "Cost of Goods Sold")),
                (AccountKind::Inventory, account("1400", "Inventory")),
                (AccountKind::WriteOff, account("5100", "Inventory Write-offs")),
                (AccountKind::AdjustmentGain, account("4900", "Inventory Adjustments")),
                (AccountKind::SupplierReturnsClearing, account("2150", "Supplier Returns Clearing")),
                (AccountKind::LandedCostClearing, account("2160", "Landed Cost Clearing")),
            ]),
            sku_rules: Vec::new(),
            locations: BTreeMap::new(),
        }
    }
}

impl ChartOfAccounts {
    /// The account of `kind` for a line about `sku` (`None`: a line for every SKU) at
    /// `location`: for inventory the location's account when it has one; for COGS and
    /// inventory a rule's account when the longest prefix matching the SKU has one; else
    /// the chart's.
    pub fn account(&self, kind: AccountKind, sku: Option<&Sku>, location: &Location) -> &Account {
        if kind == AccountKind::Inventory
            && let Some(account) = self.locations.get(location)
        {
            return account;
        }
        let ruled = sku.and_then(|sku| {
            self.sku_rules
                .iter()
                .filter(|rule| sku.as_str().starts_with(&rule.prefix))
                .max_by_key(|rule| rule.prefix.len())
                .and_then(|rule| match kind {
                    AccountKind::Cogs => rule.cogs.as_ref(),
                    AccountKind::Inventory => rule.inventory.as_ref(),
                    _ => None,
                })
        });
        ruled.unwrap_or_else(|| self.accounts.get(&kind).unwrap_or_else(|| Self::fallback(kind)))
    }

    /// The deployment default of a kind no chart named (a chart always has every kind
    /// once merged over the defaults; this keeps lookups total).
    fn fallback(kind: AccountKind) -> &'static Account {
        static DEFAULT: std::sync::OnceLock<ChartOfAccounts> = std::sync::OnceLock::new();
        &DEFAULT.get_or_init(ChartOfAccounts::default).accounts[&kind]
    }

    /// `self` with each account `tenant` names put over it, and the tenant's SKU rules
    /// and location accounts (a tenant that set nothing keeps the deployment's chart).
    pub fn overlaid(
        &self,
        accounts: &BTreeMap<AccountKind, Account>,
        sku_rules: &[SkuRule],
        locations: &BTreeMap<Location, Account>,
    ) -> Self {
        let mut chart = self.clone();
        chart.accounts.extend(accounts.iter().map(|(kind, account)| (*kind, account.clone())));
        if !sku_rules.is_empty() {
            chart.sku_rules = sku_rules.to_vec();
        }
        chart.locations.extend(locations.iter().map(|(location, account)| (location.clone(), account.clone())));
        chart
    }
}

/// A Xero tracking category and option every line carries (`TrackingName1`,
/// `TrackingOption1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XeroTracking {
    pub name: String,
    pub option: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_prefix_decides_cogs_and_inventory_and_other_kinds_stay() {
        let account = |text: &str| text.parse::<Account>().unwrap();
        let chart = ChartOfAccounts {
            sku_rules: vec![
                SkuRule { prefix: "COF".into(), cogs: Some(account("5010:COGS Coffee")), inventory: None },
                SkuRule {
                    prefix: "COF-GREEN".into(),
                    cogs: Some(account("5011:COGS Green")),
                    inventory: Some(account("1411:Green Beans")),
                },
            ],
            ..ChartOfAccounts::default()
        };
        let sku = |id: &str| Sku::parse(id).unwrap();
        let main = Location::default();
        assert_eq!(chart.account(AccountKind::Cogs, Some(&sku("COF-1")), &main).code, "5010");
        assert_eq!(chart.account(AccountKind::Inventory, Some(&sku("COF-1")), &main).code, "1400");
        assert_eq!(chart.account(AccountKind::Cogs, Some(&sku("COF-GREEN-1")), &main).code, "5011");
        assert_eq!(chart.account(AccountKind::Inventory, Some(&sku("COF-GREEN-1")), &main).code, "1411");
        assert_eq!(chart.account(AccountKind::WriteOff, Some(&sku("COF-1")), &main).code, "5100");
        assert_eq!(chart.account(AccountKind::Cogs, Some(&sku("TEA-1")), &main).code, "5000");
        assert_eq!(chart.account(AccountKind::Cogs, None, &main).code, "5000");
    }

    #[test]
    fn a_location_with_an_account_of_its_own_holds_its_inventory_there_whatever_the_sku() {
        let account = |text: &str| text.parse::<Account>().unwrap();
        let west = Location::parse("WEST").unwrap();
        let chart = ChartOfAccounts::default().overlaid(
            &BTreeMap::new(),
            &[SkuRule { prefix: "COF".into(), cogs: None, inventory: Some(account("1411:Coffee")) }],
            &BTreeMap::from([(west.clone(), account("1420:Inventory West"))]),
        );
        let sku = |id: &str| Sku::parse(id).unwrap();
        assert_eq!(chart.account(AccountKind::Inventory, Some(&sku("COF-1")), &west).code, "1420");
        assert_eq!(chart.account(AccountKind::Inventory, Some(&sku("TEA-1")), &west).code, "1420");
        assert_eq!(chart.account(AccountKind::Cogs, Some(&sku("TEA-1")), &west).code, "5000");
        assert_eq!(chart.account(AccountKind::Inventory, Some(&sku("COF-1")), &Location::default()).code, "1411");
        assert_eq!(chart.account(AccountKind::Inventory, None, &Location::default()).code, "1400");
    }

    #[test]
    fn a_tenants_accounts_go_over_the_deployments_kind_by_kind() {
        let mine = BTreeMap::from([(AccountKind::Cogs, "310:Cost of Sales".parse::<Account>().unwrap())]);
        let chart = ChartOfAccounts::default().overlaid(&mine, &[], &BTreeMap::new());
        let main = Location::default();
        assert_eq!(chart.account(AccountKind::Cogs, None, &main).code, "310");
        assert_eq!(chart.account(AccountKind::Inventory, None, &main).code, "1400");
    }
}
